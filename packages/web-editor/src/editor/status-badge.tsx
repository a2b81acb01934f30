import type { SessionStatus } from '@tandem/client-sdk';
import { useEditorStore } from './editor-context.js';

const HINTS: Record<SessionStatus, string> = {
  connecting: 'Joining the project',
  syncing: 'Sending your latest edits',
  live: 'Your edits reached the server; saving to the database',
  saved: 'Every edit is stored in the database',
  offline: 'Edits stay in this tab and merge when the connection returns',
};

/** Where the user's edits are: connecting, saving, live (on the server), saved (in the database), offline. */
export function StatusBadge() {
  const store = useEditorStore();
  const status = store.status.value;
  const labels: Record<SessionStatus, string> = {
    connecting: 'Connecting…',
    syncing: 'Saving…',
    live: 'Live',
    saved: 'All changes saved',
    offline: store.unsyncedOffline.value ? 'Offline · unsynced edits kept' : 'Offline',
  };
  return (
    <span class="status-badge" data-status={status} role="status" title={HINTS[status]}>
      {labels[status]}
    </span>
  );
}

/** File operations waiting for the server (the offline queue), hidden when there are none. */
export function QueueChip() {
  const store = useEditorStore();
  const ops = store.queue.value;
  const status = store.status.value;
  const n = ops.length;
  const changes = n === 1 ? '1 change' : `${n} changes`;
  return (
    <span
      class="chip chip-queue"
      data-testid="queued-ops"
      hidden={n === 0}
      title={ops
        .map((op) => (op.kind === 'rename' ? `rename ${op.from} → ${op.to}` : `${op.kind} ${op.path}`))
        .join('\n')}
    >
      {status === 'offline' || status === 'connecting' ? `${changes} waiting for connection` : `Applying ${changes}…`}
    </span>
  );
}
