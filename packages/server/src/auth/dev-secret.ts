import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { ErrorCode } from '@tandem/protocol';
import { AppError } from '../errors/index.js';

/**
 * Development mode's HS256 secret: read from `file`, or generated (32 random bytes, base64url) and
 * written there once with mode 0600. One secret per data directory, so a development server keeps
 * its tokens across restarts while no two checkouts (and no web page) know each other's secret.
 * Safe against concurrent first starts (`serve --workers N`): the file is created exclusively and
 * whoever loses the race reads the winner's secret.
 */
export function loadOrCreateDevSecret(file: string): string {
  const existing = readSecret(file);
  if (existing !== null) return existing;
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const secret = randomBytes(32).toString('base64url');
  try {
    writeFileSync(file, `${secret}\n`, { flag: 'wx', mode: 0o600 });
    return secret;
  } catch (error) {
    // EEXIST: another process created it first; use theirs.
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  const raced = readSecret(file);
  if (raced === null)
    throw new AppError(
      ErrorCode.VALIDATION_FAILED,
      `the development secret file ${file} is empty or too short; delete it to generate a new one`,
    );
  return raced;
}

function readSecret(file: string): string | null {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    // ENOENT: not generated yet.
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  const secret = text.trim();
  // A file another process is writing right now may still be empty: the caller retries the read.
  if (secret.length < 32) return null;
  // Someone loosened the mode: tighten it again rather than refuse to start.
  if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600);
  return secret;
}
