/** A tiny element builder: the editor is framework-free. */

type Child = Node | string | null | undefined | false;
type Props = Record<string, string | number | boolean | null | undefined | EventListener>;

/**
 * Creates an element. Props starting with `on` are event listeners (`onclick`), `class` and
 * other strings become attributes, booleans toggle attributes, null/undefined are skipped.
 * @example
 * h('button', { class: 'primary', onclick: () => save() }, 'Save')
 */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Props = {},
  ...children: Array<Child | Child[]>
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') {
      element.addEventListener(key.slice(2), value);
    } else if (value === true) {
      element.setAttribute(key, '');
    } else if (typeof value !== 'function') {
      element.setAttribute(key, String(value));
    }
  }
  append(element, children);
  return element;
}

/** Appends children (strings become text nodes; falsy ones are skipped). */
export function append(parent: Node, children: Array<Child | Child[]>): void {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    parent.appendChild(typeof child === 'string' ? document.createTextNode(child) : child);
  }
}

/** Replaces every child of `parent`. */
export function replaceChildren(parent: Element, ...children: Array<Child | Child[]>): void {
  parent.replaceChildren();
  append(parent, children);
}

/** Shows a short message in the corner (errors of file operations, copied links…). */
export function toast(message: string, kind: 'info' | 'error' = 'info', timeoutMs = 4000): void {
  let host = document.querySelector<HTMLElement>('.toasts');
  if (host === null) {
    host = h('div', { class: 'toasts', role: 'status', 'aria-live': 'polite' });
    document.body.appendChild(host);
  }
  const item = h('div', { class: `toast toast-${kind}` }, message);
  host.appendChild(item);
  setTimeout(() => item.remove(), timeoutMs);
}

/** Returns a function that runs `fn` once `delayMs` passed without another call. */
export function debounce(fn: () => void, delayMs: number): { (): void; cancel(): void } {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const run = () => {
    if (timer !== undefined) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      fn();
    }, delayMs);
  };
  run.cancel = () => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
  };
  return run;
}

/** A modal text prompt (window.prompt is blocked in some embeddings and cannot be styled). */
export function promptText(title: string, initial = '', okLabel = 'OK'): Promise<string | null> {
  return new Promise((resolve) => {
    const input = h('input', { type: 'text', class: 'input', value: initial, 'aria-label': title });
    const close = (value: string | null) => {
      dialog.close();
      dialog.remove();
      resolve(value);
    };
    const form = h(
      'form',
      {
        method: 'dialog',
        onsubmit: (event: Event) => {
          event.preventDefault();
          close(input.value.trim() === '' ? null : input.value.trim());
        },
      },
      h('h2', {}, title),
      input,
      h(
        'div',
        { class: 'dialog-actions' },
        h('button', { type: 'button', class: 'button', onclick: () => close(null) }, 'Cancel'),
        h('button', { type: 'submit', class: 'button primary' }, okLabel),
      ),
    );
    const dialog = h('dialog', { class: 'dialog' }, form);
    dialog.addEventListener('cancel', () => close(null));
    document.body.appendChild(dialog);
    dialog.showModal();
    input.focus();
    input.setSelectionRange(0, input.value.length);
  });
}

/** A modal yes/no question. */
export function confirmAction(message: string, okLabel = 'Delete'): Promise<boolean> {
  return new Promise((resolve) => {
    const close = (value: boolean) => {
      dialog.close();
      dialog.remove();
      resolve(value);
    };
    const dialog = h(
      'dialog',
      { class: 'dialog' },
      h('p', {}, message),
      h(
        'div',
        { class: 'dialog-actions' },
        h('button', { type: 'button', class: 'button', onclick: () => close(false) }, 'Cancel'),
        h('button', { type: 'button', class: 'button danger', onclick: () => close(true) }, okLabel),
      ),
    );
    dialog.addEventListener('cancel', () => close(false));
    document.body.appendChild(dialog);
    dialog.showModal();
  });
}
