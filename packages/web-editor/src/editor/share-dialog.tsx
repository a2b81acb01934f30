import { useEffect, useRef } from 'preact/hooks';
import { Modal, openDialog, toast } from '../ui/index.js';

/** Shows a share link with a Copy button. */
export function showShareDialog(url: string, access: 'read' | 'write'): Promise<void> {
  return openDialog<void>((close) => <ShareDialog url={url} access={access} close={() => close()} />);
}

function ShareDialog(props: { url: string; access: 'read' | 'write'; close: () => void }) {
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => input.current?.select(), []);
  return (
    <Modal class="share-dialog" access={props.access} onCancel={props.close}>
      <h2>{props.access === 'write' ? 'Edit link' : 'View-only link'}</h2>
      <p>
        {props.access === 'write'
          ? 'Anyone with this link can edit the project.'
          : 'Anyone with this link can follow along but not edit.'}
      </p>
      <input ref={input} type="text" class="input share-url" readOnly value={props.url} aria-label="Share link" />
      <div class="dialog-actions">
        <button type="button" class="button" onClick={props.close}>
          Close
        </button>
        <button
          type="button"
          class="button primary"
          onClick={() => {
            input.current?.select();
            navigator.clipboard?.writeText(props.url).then(
              () => toast('Link copied'),
              () => toast('Press Ctrl+C to copy the selected link'),
            );
          }}
        >
          Copy link
        </button>
      </div>
    </Modal>
  );
}
