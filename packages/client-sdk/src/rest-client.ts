import type {
  CheckpointDetail,
  CheckpointDiff,
  CheckpointPage,
  CheckpointSummary,
  ErrorBody,
  FileEntry,
  RestoreResult,
  SearchResult,
  ShardDetail,
  ShardPage,
  ShardSummary,
  TemplateSummary,
} from '@tandem/protocol';
import { TandemError } from './tandem-error.js';

/**
 * Typed helpers over the REST API (fetch; browsers and Node 20+).
 * @example
 * const rest = new TandemRest({ url: 'http://127.0.0.1:3000', token })
 * const { shard } = await rest.createShard({ templateId: 'react', name: 'demo' })
 */
export class TandemRest {
  constructor(private readonly options: { url: string; token: string | (() => string) }) {}

  listTemplates(): Promise<{ templates: TemplateSummary[] }> {
    return this.request('GET', '/templates');
  }

  createShard(body: { templateId: string; name: string }): Promise<{ shard: ShardDetail }> {
    return this.request('POST', '/shards', body);
  }

  /**
   * One page of the shards you may read (your own, those your token names; admins: all), most
   * recently updated first. Pass the page's `nextCursor` as `cursor` for the next one.
   * @example
   * let page = await rest.listShards({ limit: 20 })
   * while (page.nextCursor !== null) page = await rest.listShards({ cursor: page.nextCursor })
   */
  listShards(options: { limit?: number; cursor?: string } = {}): Promise<ShardPage> {
    const query = new URLSearchParams();
    if (options.limit !== undefined) query.set('limit', String(options.limit));
    if (options.cursor !== undefined) query.set('cursor', options.cursor);
    const qs = query.toString();
    return this.request('GET', `/shards${qs === '' ? '' : `?${qs}`}`);
  }

  /** Renames a shard (write access); everyone in it gets the `renamed` session event. */
  renameShard(id: string, name: string): Promise<{ shard: ShardSummary }> {
    return this.request('PATCH', `/shards/${encodeURIComponent(id)}`, { name });
  }

  /** Deletes a shard (its owner or an admin); everyone in it gets the `deleted` session event. */
  deleteShard(id: string): Promise<{ deleted: string }> {
    return this.request('DELETE', `/shards/${encodeURIComponent(id)}`);
  }

  /** Copies a shard as it is now (unsynced edits included) into a new shard you own. */
  forkShard(id: string, options: { name?: string } = {}): Promise<{ shard: ShardDetail }> {
    return this.request('POST', `/shards/${encodeURIComponent(id)}/fork`, options);
  }

  /**
   * Searches the live text of every file of a shard (plain text, case-insensitive unless asked),
   * up to `limit` matches (default 200, at most 1000; `truncated` says when there were more).
   */
  searchShard(
    id: string,
    query: string,
    options: { caseSensitive?: boolean; limit?: number } = {},
  ): Promise<SearchResult> {
    const qs = new URLSearchParams({ q: query });
    if (options.caseSensitive !== undefined) qs.set('caseSensitive', String(options.caseSensitive));
    if (options.limit !== undefined) qs.set('limit', String(options.limit));
    return this.request('GET', `/shards/${encodeURIComponent(id)}/search?${qs.toString()}`);
  }

  getShard(id: string): Promise<{ shard: ShardDetail }> {
    return this.request('GET', `/shards/${encodeURIComponent(id)}`);
  }

  /** A text file's text (a binary file: use readBinaryFile). */
  readFile(id: string, path: string): Promise<{ file: FileEntry; content: string }> {
    return this.request('GET', `/shards/${encodeURIComponent(id)}/files/${encodePath(path)}`);
  }

  /**
   * A binary file's bytes and the content type its name implies (`image/png`, …); works for text
   * files too (their UTF-8 bytes), so a preview can read any file this way.
   * @example
   * const { bytes, contentType } = await rest.readBinaryFile(shardId, 'public/logo.png')
   * img.src = URL.createObjectURL(new Blob([bytes], { type: contentType }))
   */
  async readBinaryFile(id: string, path: string): Promise<{ bytes: Uint8Array; contentType: string }> {
    const response = await this.fetch('GET', `/shards/${encodeURIComponent(id)}/files/${encodePath(path)}?raw`);
    return {
      bytes: new Uint8Array(await response.arrayBuffer()),
      contentType: response.headers.get('content-type') ?? 'application/octet-stream',
    };
  }

  /**
   * Uploads a binary file (an image, a font…): creates it, or replaces the bytes of the binary file
   * at `path`. At most the server's MAX_ASSET_BYTES (FILE_TOO_LARGE); FILE_KIND_MISMATCH over a
   * text file. Live collaborators see a `created` (kind `binary`) or `replaced` tree change.
   * @param contentType any type but JSON and text/* (those write text files). Default application/octet-stream.
   */
  uploadFile(
    id: string,
    path: string,
    bytes: Uint8Array | Blob,
    contentType = 'application/octet-stream',
  ): Promise<{ file: FileEntry; version: number; created: boolean }> {
    return this.request('PUT', `/shards/${encodeURIComponent(id)}/files/${encodePath(path)}`, { bytes, contentType });
  }

  /**
   * Creates a shard from a zip archive of a project. Refusals: ARCHIVE_INVALID (not a zip),
   * PATH_INVALID (an entry escaping the project, `details.entry`), TOO_MANY_FILES, FILE_TOO_LARGE,
   * PAYLOAD_TOO_LARGE (over IMPORT_MAX_BYTES), FILE_EXISTS (a path twice).
   * @param options.templateId default: guessed from its package.json
   */
  importZip(
    zip: Uint8Array | Blob,
    options: { name?: string; templateId?: string } = {},
  ): Promise<{ shard: ShardDetail }> {
    const query = new URLSearchParams();
    if (options.name !== undefined) query.set('name', options.name);
    if (options.templateId !== undefined) query.set('templateId', options.templateId);
    const search = query.size > 0 ? `?${query.toString()}` : '';
    return this.request('POST', `/shards/import${search}`, { bytes: zip, contentType: 'application/zip' });
  }

  writeFile(
    id: string,
    path: string,
    content: string,
  ): Promise<{ file: FileEntry; version: number; created: boolean }> {
    return this.request('PUT', `/shards/${encodeURIComponent(id)}/files/${encodePath(path)}`, { content });
  }

  deleteFile(id: string, path: string): Promise<{ files: FileEntry[]; version: number }> {
    return this.request('DELETE', `/shards/${encodeURIComponent(id)}/files/${encodePath(path)}`);
  }

  /** A token for someone else to open this shard (read or write). */
  shareToken(id: string, access: 'read' | 'write'): Promise<{ token: string; access: 'read' | 'write' }> {
    return this.request('POST', `/shards/${encodeURIComponent(id)}/tokens`, { access });
  }

  // ---- version history ------------------------------------------------------------------------

  /**
   * Checkpoints of the shard, newest first. Pass the returned `nextBefore` as `before` for the
   * next page (null: no more).
   * @param options `limit` 1–100 (default 50); `before` lists checkpoints older than that seq.
   * @example
   * const { checkpoints } = await rest.listCheckpoints(shardId, { limit: 20 })
   */
  listCheckpoints(id: string, options: { limit?: number; before?: number } = {}): Promise<CheckpointPage> {
    const query = new URLSearchParams();
    if (options.limit !== undefined) query.set('limit', String(options.limit));
    if (options.before !== undefined) query.set('before', String(options.before));
    const qs = query.size > 0 ? `?${query.toString()}` : '';
    return this.request('GET', `/shards/${encodeURIComponent(id)}/checkpoints${qs}`);
  }

  /** Names the current version (a checkpoint that is never pruned). Needs write access. */
  nameVersion(id: string, label: string): Promise<{ checkpoint: CheckpointSummary }> {
    return this.request('POST', `/shards/${encodeURIComponent(id)}/checkpoints`, { label });
  }

  /** One checkpoint with its file tree. */
  getCheckpoint(id: string, seq: number): Promise<{ checkpoint: CheckpointDetail }> {
    return this.request('GET', `/shards/${encodeURIComponent(id)}/checkpoints/${seq}`);
  }

  /** A file's text as it was at a checkpoint (a binary file: use readCheckpointBinaryFile). */
  readCheckpointFile(id: string, seq: number, path: string): Promise<{ file: FileEntry; content: string }> {
    return this.request('GET', `/shards/${encodeURIComponent(id)}/checkpoints/${seq}/files/${encodePath(path)}`);
  }

  /** A binary file's bytes as they were at a checkpoint, with the content type its name implies. */
  async readCheckpointBinaryFile(
    id: string,
    seq: number,
    path: string,
  ): Promise<{ bytes: Uint8Array; contentType: string }> {
    const response = await this.fetch(
      'GET',
      `/shards/${encodeURIComponent(id)}/checkpoints/${seq}/files/${encodePath(path)}?raw`,
    );
    return {
      bytes: new Uint8Array(await response.arrayBuffer()),
      contentType: response.headers.get('content-type') ?? 'application/octet-stream',
    };
  }

  /**
   * The files changed from checkpoint `seq` to now (default) or to another checkpoint, with
   * unified diffs; `path` limits it to one file or folder.
   */
  diffCheckpoint(
    id: string,
    seq: number,
    options: { to?: number | 'now'; path?: string } = {},
  ): Promise<CheckpointDiff> {
    const query = new URLSearchParams({ to: String(options.to ?? 'now') });
    if (options.path !== undefined) query.set('path', options.path);
    return this.request('GET', `/shards/${encodeURIComponent(id)}/checkpoints/${seq}/diff?${query.toString()}`);
  }

  /**
   * Restores a file or folder (`path`), or the whole shard, to checkpoint `seq`, live for everyone
   * in it. The state before becomes checkpoint `before` of the result: restore it to undo. Needs
   * write access.
   */
  restoreCheckpoint(id: string, seq: number, options: { path?: string } = {}): Promise<RestoreResult> {
    return this.request(
      'POST',
      `/shards/${encodeURIComponent(id)}/checkpoints/${seq}/restore`,
      options.path === undefined ? {} : { path: options.path },
    );
  }

  /** The shard as a zip archive. */
  async downloadZip(id: string): Promise<Blob> {
    const response = await this.fetch('GET', `/shards/${encodeURIComponent(id)}/zip`);
    return response.blob();
  }

  private async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await this.fetch(method, path, body);
    return (await response.json()) as T;
  }

  /** `body`: JSON, or `{ bytes, contentType }` sent as they are. */
  private async fetch(method: string, path: string, body?: unknown): Promise<Response> {
    const token = typeof this.options.token === 'string' ? this.options.token : this.options.token();
    const headers: Record<string, string> = { authorization: `Bearer ${token}` };
    let payload: BodyInit | undefined;
    if (isRawBody(body)) {
      headers['content-type'] = body.contentType;
      payload = body.bytes instanceof Uint8Array ? new Blob([body.bytes as Uint8Array<ArrayBuffer>]) : body.bytes;
    } else if (body !== undefined) {
      headers['content-type'] = 'application/json';
      payload = JSON.stringify(body);
    }
    const response = await fetch(`${this.options.url.replace(/\/+$/, '')}${path}`, {
      method,
      headers,
      ...(payload === undefined ? {} : { body: payload }),
    });
    if (!response.ok) {
      const payload = (await response.json().catch(() => null)) as { error?: ErrorBody } | null;
      throw new TandemError(payload?.error ?? { code: 'INTERNAL', message: `HTTP ${response.status}` });
    }
    return response;
  }
}

type RawBody = { bytes: Uint8Array | Blob; contentType: string };

function isRawBody(body: unknown): body is RawBody {
  return (
    typeof body === 'object' &&
    body !== null &&
    'bytes' in body &&
    'contentType' in body &&
    (body.bytes instanceof Uint8Array || (typeof Blob !== 'undefined' && body.bytes instanceof Blob))
  );
}

function encodePath(path: string): string {
  return path.split('/').map(encodeURIComponent).join('/');
}
