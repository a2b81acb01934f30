import { signal } from '@preact/signals';

type ToastItem = { id: number; message: string; kind: 'info' | 'error' };

const toasts = signal<ToastItem[]>([]);
let nextId = 0;

/** Shows a short message in the corner (errors of file operations, copied links…). */
export function toast(message: string, kind: 'info' | 'error' = 'info', timeoutMs = 4000): void {
  const item = { id: ++nextId, message, kind };
  toasts.value = [...toasts.value, item];
  setTimeout(() => {
    toasts.value = toasts.value.filter((t) => t !== item);
  }, timeoutMs);
}

/** Where toasts appear; mounted once by the app shell. */
export function Toasts() {
  return (
    <div class="toasts" role="status" aria-live="polite">
      {toasts.value.map((t) => (
        <div key={t.id} class={`toast toast-${t.kind}`}>
          {t.message}
        </div>
      ))}
    </div>
  );
}
