import { TandemError, TandemRest } from '@tandem/client-sdk';
import type { ShardSummary, TemplateSummary } from '@tandem/protocol';
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { forgetShard, listRecent, rememberShard } from '../recent-shards.js';
import { readToken } from '../session-token.js';
import { confirmAction, promptText, toast } from '../ui/index.js';

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
        <YourProjects rest={rest} sub={who?.sub ?? ''} isAdmin={who?.role === 'admin'} />
        {who?.canCreate === false ? (
          <section class="home-section" data-testid="cannot-create">
            <h2>Start a project</h2>
            <p class="muted">
              Your link opens the projects it was made for; it cannot create new ones. Ask the person who shared it for
              an account if you want your own.
            </p>
          </section>
        ) : (
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
        )}
        <section class="home-section two-columns">
          <RecentProjects />
          <div>
            <h2>Open a project</h2>
            <OpenForm />
            <h2>Upload a project</h2>
            <UploadProject
              onUpload={async (zip) => {
                const name = nameInput.current?.value.trim() || undefined;
                const { shard } = await rest.importZip(zip, name === undefined ? {} : { name });
                rememberShard({ id: shard.id, name: shard.name, templateId: shard.templateId });
                location.assign(`/s/${shard.id}`);
              }}
            />
          </div>
        </section>
      </main>
    </div>
  );
}

/** How long ago a moment was, in words ("5 minutes ago"). */
function ago(iso: string): string {
  const seconds = Math.round((Date.now() - new Date(iso).getTime()) / 1000);
  const format = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });
  if (seconds < 60) return format.format(-seconds, 'second');
  if (seconds < 3600) return format.format(-Math.round(seconds / 60), 'minute');
  if (seconds < 86_400) return format.format(-Math.round(seconds / 3600), 'hour');
  return format.format(-Math.round(seconds / 86_400), 'day');
}

type Projects =
  | { kind: 'loading' }
  | { kind: 'failed'; message: string }
  | { kind: 'ready'; shards: ShardSummary[]; next: string | null };

/** The projects this token may open (GET /shards), newest first, with rename and delete for the owner. */
function YourProjects(props: { rest: TandemRest; sub: string; isAdmin: boolean }) {
  const { rest } = props;
  const [projects, setProjects] = useState<Projects>({ kind: 'loading' });
  const [loadingMore, setLoadingMore] = useState(false);

  useEffect(() => {
    rest.listShards({ limit: 20 }).then(
      (page) => setProjects({ kind: 'ready', shards: page.shards, next: page.nextCursor }),
      (error: unknown) =>
        setProjects({ kind: 'failed', message: error instanceof Error ? error.message : String(error) }),
    );
  }, [rest]);

  const replace = (id: string, change: (shard: ShardSummary) => ShardSummary | null) =>
    setProjects((current) =>
      current.kind !== 'ready'
        ? current
        : {
            ...current,
            shards: current.shards.flatMap((s) => {
              if (s.id !== id) return [s];
              const next = change(s);
              return next === null ? [] : [next];
            }),
          },
    );

  const rename = async (shard: ShardSummary) => {
    const name = await promptText('Rename project', shard.name, 'Rename');
    if (name === null || name === shard.name) return;
    try {
      const { shard: renamed } = await rest.renameShard(shard.id, name);
      replace(shard.id, () => renamed);
      rememberShardName(shard.id, renamed.name, renamed.templateId);
    } catch (error) {
      toast(error instanceof Error ? error.message : String(error), 'error');
    }
  };

  const remove = async (shard: ShardSummary) => {
    const ok = await confirmAction(
      `Delete ${shard.name} for everyone? Its files are gone for good, and anyone editing it now is told.`,
    );
    if (!ok) return;
    try {
      await rest.deleteShard(shard.id);
      forgetShard(shard.id);
      replace(shard.id, () => null);
      toast(`Deleted ${shard.name}`, 'info');
    } catch (error) {
      toast(error instanceof Error ? error.message : String(error), 'error');
    }
  };

  const more = async () => {
    if (projects.kind !== 'ready' || projects.next === null) return;
    setLoadingMore(true);
    try {
      const page = await rest.listShards({ limit: 20, cursor: projects.next });
      setProjects({ kind: 'ready', shards: [...projects.shards, ...page.shards], next: page.nextCursor });
    } catch (error) {
      toast(error instanceof Error ? error.message : String(error), 'error');
    } finally {
      setLoadingMore(false);
    }
  };

  return (
    <section class="home-section" data-testid="your-projects">
      <h2>Your projects</h2>
      {projects.kind === 'loading' ? <p class="muted">Loading your projects…</p> : null}
      {projects.kind === 'failed' ? <p class="muted">{`Could not list your projects: ${projects.message}`}</p> : null}
      {projects.kind === 'ready' && projects.shards.length === 0 ? (
        <p class="muted">No projects yet. Start one from a template below.</p>
      ) : null}
      {projects.kind === 'ready' && projects.shards.length > 0 ? (
        <ul class="project-list">
          {projects.shards.map((shard) => {
            const mine = shard.ownerId === props.sub;
            const manage = mine || props.isAdmin;
            return (
              <li key={shard.id} class="project-row" data-shard-id={shard.id}>
                <a class="project-name" href={`/s/${shard.id}`}>
                  {shard.name}
                </a>
                <span class="chip">{shard.templateId}</span>
                <span class="muted project-meta">
                  {`${mine ? 'yours' : `by ${shard.ownerId ?? 'unknown'}`} · updated ${ago(shard.updatedAt)}`}
                </span>
                {manage ? (
                  <span class="project-actions">
                    <button
                      type="button"
                      class="button"
                      data-action="rename-project"
                      onClick={() => void rename(shard)}
                    >
                      Rename
                    </button>
                    <button
                      type="button"
                      class="button danger"
                      data-action="delete-project"
                      onClick={() => void remove(shard)}
                    >
                      Delete
                    </button>
                  </span>
                ) : null}
              </li>
            );
          })}
        </ul>
      ) : null}
      {projects.kind === 'ready' && projects.next !== null ? (
        <button
          type="button"
          class="button"
          data-action="more-projects"
          disabled={loadingMore}
          onClick={() => void more()}
        >
          Show more
        </button>
      ) : null}
    </section>
  );
}

/** Keeps the browser's recent list in step with a rename (it shows names too). */
function rememberShardName(id: string, name: string, templateId: string): void {
  if (listRecent().some((s) => s.id === id)) rememberShard({ id, name, templateId });
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

/**
 * A zip of a project (`POST /shards/import`): its files become a new project, the template guessed
 * from its package.json. What the server refuses (a path escaping the project, too many files, a
 * file too large) is said in a toast, naming the entry.
 */
function UploadProject(props: { onUpload: (zip: File) => Promise<void> }) {
  const [busy, setBusy] = useState(false);
  return (
    <label class={`button upload-project${busy ? ' disabled' : ''}`}>
      {busy ? 'Uploading…' : 'Choose a .zip…'}
      <input
        type="file"
        accept=".zip,application/zip"
        aria-label="Upload a project (.zip)"
        hidden
        disabled={busy}
        onChange={(event) => {
          const file = event.currentTarget.files?.[0];
          event.currentTarget.value = '';
          if (file === undefined) return;
          setBusy(true);
          props.onUpload(file).catch((error: unknown) => {
            setBusy(false);
            toast(`Could not import ${file.name}: ${error instanceof Error ? error.message : String(error)}`, 'error');
          });
        }}
      />
    </label>
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
