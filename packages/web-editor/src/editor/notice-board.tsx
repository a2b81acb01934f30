import { saveFile, toast } from '../ui/index.js';
import { useEditorStore } from './editor-context.js';
import type { Notice } from './editor-store.js';

/** Banners that stay until dismissed (unlike toasts): refused edits and failed file operations. */
export function NoticeBoard() {
  const store = useEditorStore();
  return (
    <div class="notices" role="alert" aria-live="assertive">
      {store.notices.value.map((notice) => (
        <NoticeBanner key={notice.key} notice={notice} onDismiss={() => store.dismissNotice(notice.key)} />
      ))}
    </div>
  );
}

function NoticeBanner(props: { notice: Notice; onDismiss: () => void }) {
  const { notice } = props;
  const text = notice.text;
  return (
    <div class={`notice notice-${notice.kind}`} data-kind={notice.kind} data-path={notice.path ?? ''}>
      <p class="notice-message">{notice.message}</p>
      <div class="notice-actions">
        {text === undefined ? null : (
          <button
            type="button"
            class="button"
            data-action="copy-text"
            onClick={() => {
              navigator.clipboard?.writeText(text).then(
                () => toast('Your text is on the clipboard'),
                () => toast('Could not copy: use "Download my text"', 'error'),
              );
            }}
          >
            Copy my text
          </button>
        )}
        {text === undefined ? null : (
          <button
            type="button"
            class="button"
            data-action="download-text"
            onClick={() =>
              saveFile(new Blob([text], { type: 'text/plain;charset=utf-8' }), notice.fileName ?? 'my-text.txt')
            }
          >
            Download my text
          </button>
        )}
        <button type="button" class="button" data-action="dismiss" onClick={props.onDismiss}>
          Dismiss
        </button>
      </div>
    </div>
  );
}
