import { promisify } from 'node:util';
import { crc32, deflateRaw } from 'node:zlib';
import { Zip, type ZipInputFile } from 'fflate';
import { ErrorCode } from '@tandem/protocol';
import { AppError } from '../errors/index.js';

const deflateRawAsync = promisify(deflateRaw);

/** One file of an archive: its canonical path and its text (or bytes, for a binary file). */
export type ZipSourceFile = { path: string; content: string | Uint8Array };

/**
 * Streams a zip archive of `files`, one file at a time: each file is compressed on libuv's thread
 * pool (zlib's asynchronous deflate), never on the event loop, and only the current file and the
 * archive's central directory are held in memory. fflate writes the container; its input is given
 * already compressed (a ZipInputFile with the CRC and size computed here), since fflate's own
 * deflate would run on the event loop and its asynchronous one starts a worker per file.
 *
 * Throws PAYLOAD_TOO_LARGE (from the iterator) once the text read so far exceeds `maxBytes`; a
 * consumer that already sent the first bytes can only cut the download short.
 */
export async function* zipStream(
  files: AsyncIterable<ZipSourceFile>,
  options: { maxBytes: number; level?: number },
): AsyncGenerator<Uint8Array> {
  const out: Uint8Array[] = [];
  let failure: Error | null = null;
  const zip = new Zip((error, chunk) => {
    if (error !== null) failure = error;
    else out.push(chunk);
  });
  let total = 0;
  try {
    for await (const file of files) {
      const raw =
        typeof file.content === 'string'
          ? Buffer.from(file.content, 'utf8')
          : Buffer.from(file.content.buffer, file.content.byteOffset, file.content.byteLength);
      total += raw.byteLength;
      if (total > options.maxBytes) {
        throw new AppError(
          ErrorCode.PAYLOAD_TOO_LARGE,
          `the shard's files hold more than ZIP_MAX_BYTES (${options.maxBytes} bytes); download the files one by one`,
        );
      }
      const compressed = await deflateRawAsync(raw, { level: options.level ?? 6 });
      const entry: ZipInputFile = { filename: file.path, size: raw.byteLength, crc: crc32(raw), compression: 8 };
      zip.add(entry);
      // Zip.add sets ondata: the whole compressed file is its one and final chunk.
      entry.ondata?.(null, new Uint8Array(compressed.buffer, compressed.byteOffset, compressed.byteLength), true);
      if (failure !== null) throw failure;
      yield* out.splice(0);
    }
    zip.end();
    if (failure !== null) throw failure;
    yield* out.splice(0);
  } finally {
    zip.terminate();
  }
}
