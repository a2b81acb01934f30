import { h, toast } from '../dom.js';

/** One banner above the editor: what went wrong, in plain words, and the user's text to take away. */
export type Notice = {
  /** One banner per key (a newer notice with the same key replaces the older one). */
  key: string;
  kind: 'refused' | 'op-failed';
  message: string;
  /** The file the notice is about, if any (for tests and styling). */
  path?: string;
  /** Text the user would otherwise lose: offered as "Copy my text" and "Download my text". */
  text?: string;
  /** The name of the downloaded file. */
  fileName?: string;
  onDismiss?: () => void;
};

/** Banners that stay until dismissed (unlike toasts): refused edits and failed file operations. */
export class NoticeBoard {
  readonly element = h('div', { class: 'notices', role: 'alert', 'aria-live': 'assertive' });
  private readonly shown = new Map<string, HTMLElement>();

  show(notice: Notice): void {
    const dismiss = () => {
      this.shown.get(notice.key)?.remove();
      this.shown.delete(notice.key);
      notice.onDismiss?.();
    };
    const text = notice.text;
    const banner = h(
      'div',
      { class: `notice notice-${notice.kind}`, 'data-kind': notice.kind, 'data-path': notice.path ?? '' },
      h('p', { class: 'notice-message' }, notice.message),
      h(
        'div',
        { class: 'notice-actions' },
        text === undefined
          ? null
          : h(
              'button',
              {
                type: 'button',
                class: 'button',
                'data-action': 'copy-text',
                onclick: () => {
                  navigator.clipboard?.writeText(text).then(
                    () => toast('Your text is on the clipboard'),
                    () => toast('Could not copy: use "Download my text"', 'error'),
                  );
                },
              },
              'Copy my text',
            ),
        text === undefined
          ? null
          : h(
              'button',
              {
                type: 'button',
                class: 'button',
                'data-action': 'download-text',
                onclick: () => download(text, notice.fileName ?? 'my-text.txt'),
              },
              'Download my text',
            ),
        h('button', { type: 'button', class: 'button', 'data-action': 'dismiss', onclick: dismiss }, 'Dismiss'),
      ),
    );
    this.shown.get(notice.key)?.replaceWith(banner);
    if (!this.shown.has(notice.key)) this.element.append(banner);
    this.shown.set(notice.key, banner);
  }
}

function download(text: string, fileName: string): void {
  const url = URL.createObjectURL(new Blob([text], { type: 'text/plain;charset=utf-8' }));
  const link = h('a', { href: url, download: fileName });
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
