import { signal } from '@preact/signals';
import type { ComponentChildren, VNode } from 'preact';
import { useEffect, useRef } from 'preact/hooks';

type OpenDialog = { id: number; content: VNode };

const open = signal<OpenDialog[]>([]);
let nextId = 0;

/**
 * Shows a modal dialog until `render`'s `close` is called; resolves with the value passed to it.
 * The content is a <Modal> (or anything that renders one).
 */
export function openDialog<T>(render: (close: (value: T) => void) => VNode): Promise<T> {
  return new Promise((resolve) => {
    const id = ++nextId;
    const close = (value: T) => {
      open.value = open.value.filter((d) => d.id !== id);
      resolve(value);
    };
    open.value = [...open.value, { id, content: render(close) }];
  });
}

/** Renders the open dialogs; mounted once by the app shell. */
export function DialogHost() {
  return (
    <>
      {open.value.map((d) => (
        <div key={d.id}>{d.content}</div>
      ))}
    </>
  );
}

/** A native <dialog> shown modal while mounted; Escape calls `onCancel`. */
export function Modal(props: { class?: string; onCancel: () => void; children: ComponentChildren; access?: string }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const dialog = ref.current;
    if (dialog === null) return undefined;
    dialog.showModal();
    return () => dialog.close();
  }, []);
  return (
    <dialog
      ref={ref}
      class={`dialog${props.class === undefined ? '' : ` ${props.class}`}`}
      data-access={props.access}
      onCancel={(event) => {
        event.preventDefault();
        props.onCancel();
      }}
    >
      {props.children}
    </dialog>
  );
}

function PromptDialog(props: {
  title: string;
  initial: string;
  okLabel: string;
  problem?: string | undefined;
  close: (v: string | null) => void;
}) {
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => {
    const element = input.current;
    if (element === null) return;
    element.focus();
    element.setSelectionRange(0, element.value.length);
  }, []);
  return (
    <Modal onCancel={() => props.close(null)}>
      <form
        method="dialog"
        onSubmit={(event) => {
          event.preventDefault();
          const value = input.current?.value.trim() ?? '';
          props.close(value === '' ? null : value);
        }}
      >
        <h2>{props.title}</h2>
        {props.problem === undefined ? null : (
          <p class="dialog-problem" role="alert">
            {props.problem}
          </p>
        )}
        <input ref={input} type="text" class="input" value={props.initial} aria-label={props.title} />
        <div class="dialog-actions">
          <button type="button" class="button" onClick={() => props.close(null)}>
            Cancel
          </button>
          <button type="submit" class="button primary">
            {props.okLabel}
          </button>
        </div>
      </form>
    </Modal>
  );
}

/** A modal text prompt (window.prompt is blocked in some embeddings and cannot be styled). */
export function promptText(title: string, initial = '', okLabel = 'OK', problem?: string): Promise<string | null> {
  return openDialog<string | null>((close) => (
    <PromptDialog title={title} initial={initial} okLabel={okLabel} problem={problem} close={close} />
  ));
}

/** A modal yes/no question. */
export function confirmAction(message: string, okLabel = 'Delete'): Promise<boolean> {
  return openDialog<boolean>((close) => (
    <Modal onCancel={() => close(false)}>
      <p>{message}</p>
      <div class="dialog-actions">
        <button type="button" class="button" onClick={() => close(false)}>
          Cancel
        </button>
        <button type="button" class="button danger" onClick={() => close(true)}>
          {okLabel}
        </button>
      </div>
    </Modal>
  ));
}
