import { TandemError, TandemRest } from '@tandem/client-sdk';
import type { TemplateSummary } from '@tandem/protocol';
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { forgetShard, listRecent, rememberShard } from '../recent-shards.js';
import { readToken } from '../session-token.js';
import { toast } from '../ui/index.js';

export type HomePageProps = {
  token: string;
  onAuthError: (message: string) => void;
};

const RUNTIME_LABELS: Record<TemplateSummary['runtime'], string> = {
  static: 'Static · live preview',
  browser: 'Browser · live preview',
  node: 'Needs Node',
};

type Load = { kind: 'loading' } | { kind: 'failed'; message: string } | { kind: 'ready'; templates: TemplateSummary[] };

/** Templates to start from, recent projects, and opening a project by id. */
export function HomePage(props: HomePageProps) {
  const rest = useMemo(() => new TandemRest({ url: location.origin, token: props.token }), [props.token]);
  const [load, setLoad] = useState<Load>({ kind: 'loading' });
  const nameInput = useRef<HTMLInputElement>(null);
  const { onAuthError } = props;

  useEffect(() => {
    rest.listTemplates().then(
      ({ templates }) => setLoad({ kind: 'ready', templates }),
      (error: unknown) => {
        if (error instanceof TandemError && (error.code === 'UNAUTHENTICATED' || error.code === 'TOKEN_EXPIRED'))
          return onAuthError(error.message);
        setLoad({ kind: 'failed', message: String(error) });
      },
    );
  }, [rest, onAuthError]);

  if (load.kind === 'loading') return <div class="loading">Loading templates…</div>;
  if (load.kind === 'failed')
    return (
      <div class="page-message">
        <h1>Cannot reach the server</h1>
        <p>{load.message}</p>
      </div>
    );

  const who = readToken(props.token);
  const create = async (template: TemplateSummary) => {
    const name = nameInput.current?.value.trim() || `${template.title} project`;
    const { shard } = await rest.createShard({ templateId: template.id, name });
    rememberShard({ id: shard.id, name: shard.name, templateId: shard.templateId });
    location.assign(`/s/${shard.id}`);
  };

  return (
    <div class="home">
      <header class="topbar">
        <a class="brand" href="/">
          <span class="logo" aria-hidden="true" />
          Tandem
        </a>
        <span class="tagline">Code together, live</span>
        <div class="spacer" />
        {who === null ? null : <span class="chip">{`Signed in as ${who.name ?? who.sub}`}</span>}
      </header>
      <main class="home-main">
        <section class="home-section">
          <h2>Start a project</h2>
          <div class="create-row">
            <label for="shard-name">Name</label>
            <input
              ref={nameInput}
              type="text"
              class="input"
              id="shard-name"
              placeholder="Project name (optional)"
              maxLength={120}
            />
          </div>
          <div class="template-grid">
            {load.templates.map((template) => (
              <TemplateCard key={template.id} template={template} onCreate={() => create(template)} />
            ))}
          </div>
        </section>
        <section class="home-section two-columns">
          <RecentProjects />
          <div>
            <h2>Open a project</h2>
            <OpenForm />
          </div>
        </section>
      </main>
    </div>
  );
}

function TemplateCard(props: { template: TemplateSummary; onCreate: () => Promise<void> }) {
  const { template } = props;
  const [busy, setBusy] = useState(false);
  const deps = Object.entries(template.dependencies);
  const shown =
    deps.length > 0
      ? deps.slice(0, 3)
      : Object.entries(template.devDependencies).filter(([name]) => name === 'vite' || name === 'typescript');
  const onClick = () => {
    setBusy(true);
    props.onCreate().catch((error: unknown) => {
      setBusy(false);
      const forbidden = error instanceof TandemError && error.code === 'FORBIDDEN';
      toast(
        forbidden
          ? 'Your token cannot create projects; ask for one with the create right.'
          : String(error instanceof Error ? error.message : error),
        'error',
      );
    });
  };
  return (
    <article class="template-card" data-template-id={template.id}>
      <div class="template-head">
        <h3>{template.title}</h3>
        <span class={`chip runtime-${template.runtime}`}>{RUNTIME_LABELS[template.runtime]}</span>
      </div>
      {template.description === undefined ? null : <p class="template-description">{template.description}</p>}
      <p class="template-meta">
        <span>{template.framework === 'none' ? 'No framework' : template.framework}</span>
        {' · '}
        <span>{template.language === 'ts' ? 'TypeScript' : 'JavaScript'}</span>
      </p>
      <ul class="deps">
        {shown.map(([name, version]) => (
          <li key={name}>
            <code>{`${name} ${version}`}</code>
          </li>
        ))}
      </ul>
      <div class="template-actions">
        <button type="button" class="button primary" data-action="create" disabled={busy} onClick={onClick}>
          Create
        </button>
      </div>
    </article>
  );
}

function RecentProjects() {
  const [recent, setRecent] = useState(listRecent);
  return (
    <div>
      <h2>Recent projects</h2>
      {recent.length === 0 ? (
        <p class="muted">Projects you open appear here.</p>
      ) : (
        <ul class="recent-list">
          {recent.map((shard) => (
            <li key={shard.id} data-shard-id={shard.id}>
              <a href={`/s/${shard.id}`}>{shard.name}</a>
              <span class="muted">{` ${shard.templateId} · ${new Date(shard.openedAt).toLocaleString()}`}</span>
              <button
                type="button"
                class="icon-button"
                aria-label={`Forget ${shard.name}`}
                onClick={() => {
                  forgetShard(shard.id);
                  setRecent((list) => list.filter((s) => s.id !== shard.id));
                }}
              >
                ✕
              </button>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

function OpenForm() {
  const input = useRef<HTMLInputElement>(null);
  return (
    <form
      class="open-form"
      onSubmit={(event) => {
        event.preventDefault();
        const id = (input.current?.value ?? '').trim().replace(/^.*\/s\//, '');
        if (id !== '') location.assign(`/s/${encodeURIComponent(id)}`);
      }}
    >
      <input ref={input} type="text" class="input" placeholder="Project id (UUID)" aria-label="Project id" />
      <button type="submit" class="button">
        Open
      </button>
    </form>
  );
}
