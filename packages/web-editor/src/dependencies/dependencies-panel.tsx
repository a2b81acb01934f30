import { cdnVersionResolver, type DependencyInput } from '@tandem/client-sdk';
import { useEffect, useState } from 'preact/hooks';
import { useEditorStore } from '../editor/editor-context.js';
import { messageOf } from '../editor/editor-store.js';
import type { PanelDefinition } from '../panels/panel.js';
import { toast } from '../ui/index.js';
import { DependencyList } from './dependency-list.js';

/**
 * The Dependencies panel: the `dependencies` and `devDependencies` of package.json, live. Adding
 * one (name, and a version, range or tag; `latest` when left empty), changing a version and
 * removing one all edit package.json through its shared document (SDK `setDependency`), so
 * collaborators and the preview see the change at once. Ranges and tags are written as the exact
 * version the preview's CDN resolves them to, which is what the preview's import map pins.
 */
function DependenciesPanel() {
  const store = useEditorStore();
  const [list] = useState(() => new DependencyList(store.session));
  useEffect(() => {
    list.start();
    return () => list.destroy();
  }, [list]);
  const [busy, setBusy] = useState(false);
  const maps = list.dependencies.value;
  const canWrite = store.canWrite;

  const run = async (what: () => Promise<unknown>) => {
    setBusy(true);
    try {
      await what();
    } catch (error) {
      toast(messageOf(error), 'error');
    } finally {
      setBusy(false);
    }
  };
  const resolveVersion = cdnVersionResolver(store.cdnBaseUrl);
  const set = (input: DependencyInput) => run(() => store.session.setDependency(input, { resolveVersion }));
  const remove = (name: string) => run(() => store.session.removeDependency(name));

  return (
    <div class="dependencies" aria-label="Dependencies" aria-busy={busy}>
      {maps === null ? (
        <div class="notice" role="status">
          package.json does not parse right now; the list shows again once it does.
        </div>
      ) : (
        <>
          <DependencyGroup
            title="Dependencies"
            group="dependencies"
            map={maps.dependencies}
            canWrite={canWrite && !busy}
            onVersion={(name, version) => void set({ name, version })}
            onRemove={(name) => void remove(name)}
          />
          <DependencyGroup
            title="Dev dependencies"
            group="devDependencies"
            map={maps.devDependencies}
            canWrite={canWrite && !busy}
            onVersion={(name, version) => void set({ name, version, dev: true })}
            onRemove={(name) => void remove(name)}
          />
        </>
      )}
      {canWrite ? <AddDependency disabled={busy || maps === null} onAdd={(input) => set(input)} /> : null}
      {list.exists.value ? null : <div class="binary-meta">No package.json yet: adding a dependency creates it.</div>}
    </div>
  );
}

function DependencyGroup(props: {
  title: string;
  group: 'dependencies' | 'devDependencies';
  map: Record<string, string>;
  canWrite: boolean;
  onVersion: (name: string, version: string) => void;
  onRemove: (name: string) => void;
}) {
  const names = Object.keys(props.map).sort();
  return (
    <section data-group={props.group}>
      <h4>{props.title}</h4>
      {names.length === 0 ? <div class="binary-meta">None</div> : null}
      {names.map((name) => (
        <div class="dependency-row" key={`${name}@${props.map[name]}`} data-dependency={name}>
          <span class="dependency-name" title={name}>
            {name}
          </span>
          <input
            class="input dependency-version"
            aria-label={`Version of ${name}`}
            defaultValue={props.map[name]}
            disabled={!props.canWrite}
            onKeyDown={(event) => {
              if (event.key === 'Enter') event.currentTarget.blur();
            }}
            onBlur={(event) => {
              const version = event.currentTarget.value.trim();
              if (version !== '' && version !== props.map[name]) props.onVersion(name, version);
            }}
          />
          {props.canWrite ? (
            <button
              type="button"
              class="icon-button"
              title={`Remove ${name}`}
              aria-label={`Remove ${name}`}
              onClick={() => props.onRemove(name)}
            >
              ✕
            </button>
          ) : null}
        </div>
      ))}
    </section>
  );
}

function AddDependency(props: { disabled: boolean; onAdd: (input: DependencyInput) => Promise<void> }) {
  const [name, setName] = useState('');
  const [version, setVersion] = useState('');
  const [dev, setDev] = useState(false);
  return (
    <form
      class="dependency-add"
      onSubmit={(event) => {
        event.preventDefault();
        const input: DependencyInput = { name: name.trim(), dev, ...(version.trim() === '' ? {} : { version }) };
        void props.onAdd(input).then(() => {
          setName('');
          setVersion('');
        });
      }}
    >
      <input
        type="text"
        class="input"
        aria-label="Package name"
        placeholder="package name"
        value={name}
        onInput={(event) => setName(event.currentTarget.value)}
      />
      <input
        type="text"
        class="input dependency-version"
        aria-label="Version or range"
        placeholder="latest"
        value={version}
        onInput={(event) => setVersion(event.currentTarget.value)}
      />
      <label>
        <input type="checkbox" checked={dev} onChange={(event) => setDev(event.currentTarget.checked)} /> dev
      </label>
      <button type="submit" class="button small" disabled={props.disabled || name.trim() === ''}>
        Add
      </button>
    </form>
  );
}

/** The Dependencies panel, next to the preview. */
export const dependenciesPanel: PanelDefinition = {
  id: 'dependencies',
  title: 'Dependencies',
  area: 'side',
  component: DependenciesPanel,
};
