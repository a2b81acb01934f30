import { ErrorCode, comparePaths } from '@tandem/protocol';
import yauzl from 'yauzl';
import { AppError } from '../errors/index.js';
import { canonicalPath, type PathLimits } from './canonical-path.js';

/** One file read from an archive: text (valid UTF-8) or bytes (anything else). */
export type ImportedFile = { path: string; content: string } | { path: string; bytes: Uint8Array };

export type ZipImportLimits = PathLimits & {
  maxFilesPerShard: number;
  maxFileBytes: number;
  maxAssetBytes: number;
  /** Most bytes the archive's files may hold once uncompressed. */
  importMaxBytes: number;
};

/** What an archive holds, ready to become a shard. */
export type ImportedArchive = {
  files: ImportedFile[];
  /** The one folder every file sat in (stripped from the paths), as GitHub's "Download ZIP" makes. */
  rootFolder: string | null;
  /** Entries left out: folders' own entries, macOS metadata, node_modules/ and .git/. */
  skipped: number;
};

/** File names whose bytes are binary even when they happen to decode as UTF-8. */
const BINARY_EXTENSIONS = new Set([
  'png', 'jpg', 'jpeg', 'gif', 'webp', 'avif', 'bmp', 'ico', 'woff', 'woff2', 'ttf', 'otf', 'eot',
  'pdf', 'zip', 'gz', 'mp3', 'mp4', 'webm', 'ogg', 'wav', 'wasm',
]); // prettier-ignore

/** Segments whose whole subtree an import leaves out: installed packages, history, macOS metadata. */
const SKIPPED_SEGMENTS = new Set(['node_modules', '.git', '__MACOSX']);
const SKIPPED_NAMES = new Set(['.DS_Store', 'Thumbs.db']);

/**
 * Reads a zip archive (yauzl, from memory) into files, refusing before anything is written:
 * - an entry whose name is absolute or climbs out with `..` (zip-slip): PATH_INVALID naming it;
 * - any other path a shard may not hold (too long, too deep, NUL…): PATH_INVALID;
 * - more files than MAX_FILES_PER_SHARD: TOO_MANY_FILES;
 * - an entry larger than MAX_FILE_BYTES (text) or MAX_ASSET_BYTES (binary): FILE_TOO_LARGE, checked
 *   on the declared size before inflating it and again on the bytes inflated (yauzl refuses an entry
 *   that inflates to more than it declares, so a zip bomb stops at the limit);
 * - more than IMPORT_MAX_BYTES uncompressed in all: PAYLOAD_TOO_LARGE;
 * - not a zip, encrypted entries, corrupt data: ARCHIVE_INVALID;
 * - two entries at the same path (in any case): FILE_EXISTS.
 */
export async function readZipArchive(archive: Uint8Array, limits: ZipImportLimits): Promise<ImportedArchive> {
  const zip = await openZip(Buffer.from(archive.buffer, archive.byteOffset, archive.byteLength));
  try {
    // Folders' entries and skipped ones aside, each entry is a file: refuse a huge count up front.
    if (zip.entryCount > limits.maxFilesPerShard * 2 + 1000) throw tooManyFiles(limits);
    const files: ImportedFile[] = [];
    let skipped = 0;
    let total = 0;
    const largest = Math.max(limits.maxFileBytes, limits.maxAssetBytes);
    for (;;) {
      const entry = await nextEntry(zip);
      if (entry === null) break;
      const name = entryName(entry);
      if (isSkipped(name)) {
        skipped++;
        continue;
      }
      if (files.length >= limits.maxFilesPerShard) throw tooManyFiles(limits);
      if (entry.isEncrypted()) {
        throw new AppError(
          ErrorCode.ARCHIVE_INVALID,
          `the zip entry "${name}" is encrypted; upload an unencrypted zip`,
          {
            details: { entry: name },
          },
        );
      }
      if (entry.uncompressedSize > largest) throw tooLarge(name, largest);
      total += entry.uncompressedSize;
      if (total > limits.importMaxBytes) {
        throw new AppError(
          ErrorCode.PAYLOAD_TOO_LARGE,
          `the zip's files hold more than IMPORT_MAX_BYTES (${limits.importMaxBytes} bytes) uncompressed`,
          { details: { entry: name } },
        );
      }
      const path = safePath(name, limits);
      const bytes = await readEntry(zip, entry, name);
      const text = isBinaryName(path) ? null : decodeText(bytes);
      if (text === null) {
        if (bytes.byteLength > limits.maxAssetBytes) throw tooLarge(name, limits.maxAssetBytes);
        files.push({ path, bytes });
      } else {
        if (bytes.byteLength > limits.maxFileBytes) throw tooLarge(name, limits.maxFileBytes);
        files.push({ path, content: text });
      }
    }
    const rootFolder = commonRootFolder(files);
    const stripped =
      rootFolder === null ? files : files.map((f) => ({ ...f, path: f.path.slice(rootFolder.length + 1) }));
    assertUniquePaths(stripped);
    return { files: stripped.sort((a, b) => comparePaths(a.path, b.path)), rootFolder, skipped };
  } finally {
    zip.close();
  }
}

function openZip(buffer: Buffer): Promise<yauzl.ZipFile> {
  return new Promise((resolve, reject) => {
    // decodeStrings off: names are checked here (zip-slip included) with our own stable codes.
    yauzl.fromBuffer(
      buffer,
      { lazyEntries: true, decodeStrings: false, validateEntrySizes: true, autoClose: false },
      (error, zip) => {
        if (error !== null || zip === undefined) reject(invalidArchive(error));
        else resolve(zip);
      },
    );
  });
}

function nextEntry(zip: yauzl.ZipFile): Promise<yauzl.Entry | null> {
  return new Promise((resolve, reject) => {
    const cleanup = (): void => {
      zip.off('entry', onEntry);
      zip.off('end', onEnd);
      zip.off('error', onError);
    };
    const onEntry = (entry: yauzl.Entry): void => {
      cleanup();
      resolve(entry);
    };
    const onEnd = (): void => {
      cleanup();
      resolve(null);
    };
    const onError = (error: Error): void => {
      cleanup();
      reject(invalidArchive(error));
    };
    zip.on('entry', onEntry);
    zip.on('end', onEnd);
    zip.on('error', onError);
    zip.readEntry();
  });
}

function readEntry(zip: yauzl.ZipFile, entry: yauzl.Entry, name: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    zip.openReadStream(entry, (error, stream) => {
      if (error !== null || stream === undefined) {
        reject(invalidArchive(error, name));
        return;
      }
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('error', (e: Error) => reject(invalidArchive(e, name)));
      stream.on('end', () => resolve(Buffer.concat(chunks)));
    });
  });
}

/** The entry's name as text, with Windows separators turned into `/`. */
function entryName(entry: yauzl.Entry): string {
  const raw = entry.fileName as unknown as Buffer | string;
  const text = typeof raw === 'string' ? raw : raw.toString('utf8');
  return text.replaceAll('\\', '/');
}

function isSkipped(name: string): boolean {
  if (name.endsWith('/')) return true;
  const segments = name.split('/');
  return segments.some((s) => SKIPPED_SEGMENTS.has(s)) || SKIPPED_NAMES.has(segments.at(-1) ?? '');
}

/** The shard path of an entry; PATH_INVALID when it escapes the project or is no valid path. */
function safePath(name: string, limits: PathLimits): string {
  if (name.startsWith('/') || /^[A-Za-z]:/.test(name) || name.split('/').includes('..')) {
    throw new AppError(
      ErrorCode.PATH_INVALID,
      `the zip entry "${name}" points outside the project (an absolute path or "..") and was refused; nothing was imported`,
      { details: { entry: name, problem: 'escapes' } },
    );
  }
  try {
    return canonicalPath(name.replace(/^(\.\/)+/, ''), limits);
  } catch (error) {
    if (error instanceof AppError) {
      throw new AppError(ErrorCode.PATH_INVALID, `the zip entry "${name}": ${error.message}; nothing was imported`, {
        details: { entry: name, ...error.details },
      });
    }
    throw error;
  }
}

function isBinaryName(path: string): boolean {
  const dot = path.lastIndexOf('.');
  return dot !== -1 && BINARY_EXTENSIONS.has(path.slice(dot + 1).toLowerCase());
}

/** The bytes as text when they are valid UTF-8 without NUL, else null (a binary file). */
function decodeText(bytes: Uint8Array): string | null {
  if (bytes.includes(0)) return null;
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    // A fatal decoder throws TypeError on invalid UTF-8: the file is binary.
    return null;
  }
}

/** The first segment when every file sits below that one folder, else null. */
function commonRootFolder(files: readonly ImportedFile[]): string | null {
  const first = files[0]?.path.split('/')[0];
  if (first === undefined) return null;
  return files.every((f) => f.path.startsWith(`${first}/`)) ? first : null;
}

/**
 * The rules a shard's tree keeps (shard-cache/lua/includes/path-index.lua): one file per path in
 * any case, no file where a folder is, and one spelling per folder.
 */
function assertUniquePaths(files: readonly ImportedFile[]): void {
  const seen = new Set<string>();
  const folders = new Map<string, string>();
  for (const f of files) {
    const folded = f.path.normalize('NFC').toLowerCase();
    if (seen.has(folded)) throw clash(f.path, 'twice (names are compared ignoring case)');
    seen.add(folded);
    const segments = f.path.split('/');
    for (let i = 1; i < segments.length; i++) {
      const folder = segments.slice(0, i).join('/');
      const key = folder.normalize('NFC').toLowerCase();
      const spelled = folders.get(key);
      if (spelled !== undefined && spelled !== folder)
        throw clash(f.path, `below "${folder}", spelled "${spelled}" elsewhere`);
      folders.set(key, folder);
    }
  }
  for (const f of files) {
    if (folders.has(f.path.normalize('NFC').toLowerCase())) throw clash(f.path, 'both as a file and as a folder');
  }
}

function clash(path: string, what: string): AppError {
  return new AppError(ErrorCode.FILE_EXISTS, `the zip holds "${path}" ${what}; fix the archive and upload it again`, {
    details: { entry: path },
  });
}

function tooManyFiles(limits: ZipImportLimits): AppError {
  return new AppError(
    ErrorCode.TOO_MANY_FILES,
    `the zip holds more than MAX_FILES_PER_SHARD (${limits.maxFilesPerShard}) files (node_modules/ and .git/ are left out)`,
  );
}

function tooLarge(name: string, limit: number): AppError {
  return new AppError(ErrorCode.FILE_TOO_LARGE, `the zip entry "${name}" is larger than ${limit} bytes`, {
    details: { entry: name, maxBytes: limit },
  });
}

function invalidArchive(error: Error | null, name?: string): AppError {
  const where = name === undefined ? '' : ` (entry "${name}")`;
  return new AppError(
    ErrorCode.ARCHIVE_INVALID,
    `the upload is not a readable zip archive${where}: ${error?.message ?? 'unknown error'}`,
    { cause: error, ...(name === undefined ? {} : { details: { entry: name } }) },
  );
}
