/**
 * The preview's Web Worker: builds the preview document off the main thread, so typing never
 * waits for a compiler. Messages: PreviewRequest in, PreviewResponse out (latest wins; the
 * panel ignores answers to older requests).
 */
import { buildPreview, type PreviewInput } from './build-preview.js';

export type PreviewRequest = PreviewInput & { id: number };
export type PreviewResponse = { id: number; html: string; problems: string[] } | { id: number; error: string };

addEventListener('message', (event: MessageEvent<PreviewRequest>) => {
  const { id, ...input } = event.data;
  buildPreview(input).then(
    (result) => postMessage({ id, ...result } satisfies PreviewResponse),
    (error: unknown) =>
      postMessage({ id, error: error instanceof Error ? error.message : String(error) } satisfies PreviewResponse),
  );
});
