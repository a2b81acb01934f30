import { randomUUID } from 'node:crypto';
import type { ShardId } from '@tandem/protocol';
import type { Shard, StoredFile } from '../persistence/index.js';
import { newFileId, stateFromText } from '../shard-cache/index.js';
import { packageJsonDependencies, type TemplateRegistry } from '../templates/index.js';
import type { ImportedFile } from './zip-import.js';

/**
 * A new shard holding an imported project's files (text as Yjs documents, the rest as binary
 * files), at version 0, its dependency maps read from its package.json, and the template that
 * fits it best (`templateId` when given) so the preview knows how to run it; `ownerId`: the
 * importing token's `sub`.
 */
export function shardFromImport(
  files: readonly ImportedFile[],
  input: { name: string; ownerId: string | null; templateId: string; templateRevision: number },
  now: Date = new Date(),
): Shard {
  const stored: StoredFile[] = files.map((file) =>
    'bytes' in file
      ? {
          id: newFileId(),
          path: file.path,
          content: '',
          ydocState: file.bytes,
          kind: 'binary',
          version: 0,
          updatedAt: now,
        }
      : {
          id: newFileId(),
          path: file.path,
          content: file.content,
          ydocState: stateFromText(file.content),
          version: 0,
          updatedAt: now,
        },
  );
  const pkg = packageJsonOf(files);
  const maps = pkg === null ? null : packageJsonDependencies(pkg);
  return {
    id: randomUUID() as ShardId,
    name: input.name,
    ownerId: input.ownerId,
    templateId: input.templateId,
    templateRevision: input.templateRevision,
    dependencies: { ...maps?.dependencies },
    devDependencies: { ...maps?.devDependencies },
    createdAt: now,
    updatedAt: now,
    lastSyncTimestamp: 0,
    files: stored,
  };
}

/** Which dependency names a template of the catalogue stands for, most specific first. */
const TEMPLATE_HINTS: ReadonlyArray<{ dependency: string; templateId: string; tsTemplateId?: string }> = [
  { dependency: 'next', templateId: 'nextjs' },
  { dependency: '@angular/core', templateId: 'angular' },
  { dependency: 'preact', templateId: 'preact' },
  { dependency: 'solid-js', templateId: 'solid' },
  { dependency: 'svelte', templateId: 'svelte', tsTemplateId: 'svelte-ts' },
  { dependency: 'vue', templateId: 'vue', tsTemplateId: 'vue-ts' },
  { dependency: 'react', templateId: 'react', tsTemplateId: 'react-ts' },
];

/**
 * The catalogue template an imported project most likely is: by the framework its package.json
 * depends on (its TypeScript variant when the project has a tsconfig.json), `vanilla` for another
 * project with a package.json and an index.html, `node` for one without, `static` without a
 * package.json. Only templates the registry has are returned (undefined when none fits).
 */
export function guessTemplateId(files: readonly ImportedFile[], templates: TemplateRegistry): string | undefined {
  const has = (path: string): boolean => files.some((f) => f.path === path);
  const pkg = packageJsonOf(files);
  const maps = pkg === null ? null : packageJsonDependencies(pkg);
  const candidates: string[] = [];
  if (maps !== null) {
    const names = new Set([...Object.keys(maps.dependencies), ...Object.keys(maps.devDependencies)]);
    const typescript = has('tsconfig.json');
    for (const hint of TEMPLATE_HINTS) {
      if (!names.has(hint.dependency)) continue;
      if (typescript && hint.tsTemplateId !== undefined) candidates.push(hint.tsTemplateId);
      candidates.push(hint.templateId);
    }
    candidates.push(has('index.html') ? (has('tsconfig.json') ? 'vanilla-ts' : 'vanilla') : 'node', 'vanilla');
  }
  candidates.push('static');
  return candidates.find((id) => templates.get(id) !== undefined);
}

function packageJsonOf(files: readonly ImportedFile[]): string | null {
  const file = files.find((f) => f.path === 'package.json');
  return file !== undefined && 'content' in file ? file.content : null;
}
