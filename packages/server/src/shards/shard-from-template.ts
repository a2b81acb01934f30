import { randomUUID } from 'node:crypto';
import type { ShardId } from '@tandem/protocol';
import type { Shard, StoredFile } from '../persistence/index.js';
import { newFileId, stateFromText } from '../shard-cache/index.js';
import type { ProjectTemplate } from '../templates/index.js';

/**
 * A new shard holding a copy of a template: its files (each with its text and the Yjs state of
 * that text, or its bytes for a binary file, at version 0) and its dependency maps, with a fresh id and the shard clock at 0.
 */
export function shardFromTemplate(
  template: ProjectTemplate,
  name: string,
  ownerId: string | null,
  now: Date = new Date(),
): Shard {
  const files: StoredFile[] = Object.entries(template.files).map(([path, file]) =>
    // A template file that is not UTF-8 (carried as base64) is a binary file of the shard.
    file.encoding === 'base64'
      ? {
          id: newFileId(),
          path,
          content: '',
          ydocState: Buffer.from(file.content, 'base64'),
          kind: 'binary',
          version: 0,
          updatedAt: now,
        }
      : {
          id: newFileId(),
          path,
          content: file.content,
          ydocState: stateFromText(file.content),
          version: 0,
          updatedAt: now,
        },
  );
  return {
    id: randomUUID() as ShardId,
    name,
    ownerId,
    templateId: template.id,
    templateRevision: template.revision,
    dependencies: { ...template.dependencies },
    devDependencies: { ...template.devDependencies },
    createdAt: now,
    updatedAt: now,
    lastSyncTimestamp: 0,
    files,
  };
}
