import { describePathProblem, isInside, normalizePath, type ErrorBody, type FileId } from '@tandem/protocol';
import { TandemError } from './tandem-error.js';

/**
 * A file-tree operation as the session queues, sends and replays it. `opId` is chosen once, when
 * the user acts, and sent with every retry and replay: the server applies an operation id once
 * and answers later sends with the first outcome.
 */
export type TreeOp =
  | { kind: 'create'; opId: string; path: string; fileId: FileId }
  | { kind: 'rename'; opId: string; from: string; to: string }
  | { kind: 'delete'; opId: string; path: string };

const ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** A random id of `length` base64url characters (valid as a FileId and as an opId). */
export function randomId(length = 16): string {
  const bytes = new Uint8Array(length);
  globalThis.crypto.getRandomValues(bytes);
  let id = '';
  for (const b of bytes) id += ID_ALPHABET[b & 63];
  return id;
}

/** The canonical form of a path the user typed, or a TandemError (`PATH_INVALID`) saying what is wrong with it. */
export function checkPath(path: string): string {
  const result = normalizePath(path);
  if (!result.ok)
    throw new TandemError({
      code: 'PATH_INVALID',
      message: `"${path}" is not a valid file name: ${describePathProblem(result.problem)}`,
      details: { problem: result.problem },
    });
  return result.path;
}

/**
 * Applies `op` to a path map as the server would if it still applies; an op that no longer
 * applies (its source is gone, its target taken) changes nothing. Used to show queued and
 * not-yet-broadcast operations in the local tree. `mayChange` leaves out files the op must not
 * touch (a newer notice changed them already).
 */
export function applyTreeOp(
  files: Map<FileId, string>,
  op: TreeOp,
  mayChange: (id: FileId) => boolean = () => true,
): void {
  switch (op.kind) {
    case 'create':
      if (!files.has(op.fileId) && !hasPath(files, op.path) && mayChange(op.fileId)) files.set(op.fileId, op.path);
      return;
    case 'rename': {
      const moving = [...files].filter(([id, path]) => isInside(path, op.from) && mayChange(id));
      if (moving.length === 0 || hasPath(files, op.to)) return;
      for (const [id, path] of moving) files.set(id, op.to + path.slice(op.from.length));
      return;
    }
    case 'delete':
      for (const [id, path] of [...files]) if (isInside(path, op.path) && mayChange(id)) files.delete(id);
      return;
  }
}

function hasPath(files: Map<FileId, string>, path: string): boolean {
  const lower = path.toLowerCase();
  for (const p of files.values()) if (p.toLowerCase() === lower || isInside(p, path)) return true;
  return false;
}

/** What the user asked for, in plain words ("rename a.js to b.js"). */
export function describeTreeOp(op: TreeOp): string {
  switch (op.kind) {
    case 'create':
      return `create ${op.path}`;
    case 'rename':
      return `rename ${op.from} to ${op.to}`;
    case 'delete':
      return `delete ${op.path}`;
  }
}

/**
 * Why a tree operation could not be applied, in words for the person who made it: which files,
 * and what happened (no error codes, no event names).
 * @example
 * describeTreeOpFailure({ kind: 'rename', opId, from: 'a.js', to: 'b.js' }, { code: 'FILE_NOT_FOUND', message }, true)
 * // "Could not rename a.js to b.js: a.js no longer exists — someone renamed or deleted it while you were offline"
 */
export function describeTreeOpFailure(op: TreeOp, error: ErrorBody, whileOffline: boolean): string {
  const when = whileOffline ? ' while you were offline' : '';
  const what = `Could not ${describeTreeOp(op)}`;
  switch (error.code) {
    case 'FILE_NOT_FOUND': {
      const gone = op.kind === 'rename' ? op.from : op.kind === 'delete' ? op.path : op.path;
      return `${what}: ${gone} no longer exists — someone renamed or deleted it${when}`;
    }
    case 'FILE_EXISTS': {
      const target = op.kind === 'rename' ? op.to : op.path;
      return `${what}: ${target} already exists (or a file or folder with that name in other letter case)${
        whileOffline ? ' — someone created it while you were offline' : ''
      }`;
    }
    case 'PATH_INVALID':
      return `${what}: that is not a valid file name${
        typeof error.details?.['problem'] === 'string' ? ` (${error.details['problem']})` : ''
      }`;
    case 'READ_ONLY':
    case 'FORBIDDEN':
      return `${what}: you can only view this project, not change it`;
    case 'TOO_MANY_FILES':
      return `${what}: the project already has as many files as it may hold`;
    case 'FILE_TOO_LARGE':
      return `${what}: the file is larger than the server allows`;
    case 'SHARD_NOT_FOUND':
      return `${what}: the project no longer exists`;
    default:
      return `${what}: the server refused it (${error.message})`;
  }
}
