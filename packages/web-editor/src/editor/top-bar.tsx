import { toast } from '../ui/index.js';
import { useEditorStore } from './editor-context.js';
import { messageOf } from './editor-store.js';
import { PresenceList } from './presence-list.js';
import { showShareDialog } from './share-dialog.js';
import { QueueChip, StatusBadge } from './status-badge.js';

/** The project's bar: name, template, status, queue, who is here, your name, share and download. */
export function TopBar() {
  const store = useEditorStore();
  const { session, canWrite } = store;
  const share = async (access: 'read' | 'write') => {
    try {
      await showShareDialog(await store.shareLink(access), access);
    } catch (error) {
      toast(messageOf(error), 'error');
    }
  };
  return (
    <header class="topbar">
      <a class="brand" href="/" title="All projects">
        <span class="logo" aria-hidden="true" />
        Tandem
      </a>
      <span class="shard-name" title={session.shardId} data-testid="shard-name">
        {store.shardName.value}
      </span>
      <span class="chip template-chip">{store.template?.title ?? session.shard.templateId}</span>
      {canWrite ? null : (
        <span class="chip chip-readonly" data-testid="read-only">
          View only
        </span>
      )}
      <StatusBadge />
      <QueueChip />
      <div class="spacer" />
      <button
        type="button"
        class="button narrow-only"
        data-action="panels"
        title="Preview, search, dependencies and history"
        aria-expanded={store.sidePanelsOpen.value}
        onClick={() => {
          store.sidePanelsOpen.value = !store.sidePanelsOpen.value;
        }}
      >
        Panels
      </button>
      <PresenceList />
      <NameInput />
      {canWrite ? (
        <button type="button" class="button" data-action="share-write" onClick={() => void share('write')}>
          Share edit link
        </button>
      ) : null}
      {canWrite ? (
        <button type="button" class="button" data-action="share-read" onClick={() => void share('read')}>
          Share view link
        </button>
      ) : null}
      {store.canCreate ? (
        <button
          type="button"
          class="button"
          data-action="fork"
          title="Copy this project, as it is now, into a new project of yours"
          onClick={() => void store.fork()}
        >
          Fork
        </button>
      ) : null}
      <button type="button" class="button" data-action="download" onClick={() => void store.download()}>
        Download .zip
      </button>
    </header>
  );
}

function NameInput() {
  const store = useEditorStore();
  return (
    <input
      class="name-input"
      type="text"
      defaultValue={store.identity.value.name}
      aria-label="Your name"
      title="Your name, as others see it"
      maxLength={40}
      onChange={(event) => {
        const name = event.currentTarget.value.trim();
        if (name !== '') store.rename(name);
      }}
    />
  );
}
