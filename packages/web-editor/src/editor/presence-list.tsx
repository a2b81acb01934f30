import type { FileId } from '@tandem/protocol';
import type { Identity } from '../identity.js';
import { useEditorStore } from './editor-context.js';
import { safeColor, safeName } from './presence-style.js';

/** Who is here and which file each person has open; clicking someone opens their file. */
export function PresenceList() {
  const store = useEditorStore();
  void store.presenceVersion.value;
  const awareness = store.session.awareness;
  const me = awareness.clientID;
  const states = [...awareness.getStates()].sort(([a], [b]) => (a === me ? -1 : b === me ? 1 : a - b));
  return (
    <ul class="presence" aria-label="People here">
      {states.map(([clientId, state]) => {
        const user = state['user'] as Partial<Identity> | undefined;
        if (user?.name === undefined) return null;
        const self = clientId === me;
        const fileId = typeof state['fileId'] === 'string' ? (state['fileId'] as FileId) : null;
        const file =
          fileId === null ? null : store.pathOf(fileId) || (typeof state['file'] === 'string' ? state['file'] : null);
        return (
          <li
            key={clientId}
            class={`presence-item${self ? ' self' : ''}`}
            data-name={user.name}
            data-file={file ?? ''}
            title={`${user.name}${self ? ' (you)' : ''}${file === null ? '' : ` — ${file}`}`}
            onClick={() => {
              if (!self && fileId !== null && store.session.tree().some((f) => f.id === fileId))
                void store.openTab(fileId);
            }}
          >
            <Avatar user={user} />
            <span class="presence-text">
              {/* Your own name is in the name field next to this list: shown once. */}
              <span class="presence-name">{self ? 'You' : user.name}</span>
              <span class="presence-file">{file ?? '—'}</span>
            </span>
          </li>
        );
      })}
    </ul>
  );
}

/** A collaborator's avatar: their colour set through the CSSOM, and only if it is a hex colour. */
function Avatar(props: { user: Partial<Identity> }) {
  return (
    <span class="avatar" style={{ backgroundColor: safeColor(props.user.color) }}>
      {initials(safeName(props.user.name))}
    </span>
  );
}

function initials(name: string): string {
  const parts = name.trim().split(/\s+/);
  return ((parts[0]?.[0] ?? '?') + (parts.length > 1 ? (parts[parts.length - 1]?.[0] ?? '') : '')).toUpperCase();
}
