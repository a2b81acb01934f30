import { TandemError, TandemRest } from '@tandem/client-sdk';
import type { TemplateSummary } from '@tandem/protocol';
import { h, replaceChildren, toast } from './dom.js';
import { forgetShard, listRecent, rememberShard } from './recent-shards.js';
import { readToken } from './session-token.js';

export type HomePageOptions = {
  token: string;
  onAuthError: (message: string) => void;
};

const RUNTIME_LABELS: Record<TemplateSummary['runtime'], string> = {
  static: 'Static · live preview',
  browser: 'Browser · live preview',
  node: 'Needs Node',
};

/** Templates to start from, recent projects, and opening a project by id. */
export async function showHome(root: HTMLElement, options: HomePageOptions): Promise<void> {
  const rest = new TandemRest({ url: location.origin, token: options.token });
  replaceChildren(root, h('div', { class: 'loading' }, 'Loading templates…'));
  let templates: TemplateSummary[];
  try {
    templates = (await rest.listTemplates()).templates;
  } catch (error) {
    if (error instanceof TandemError && (error.code === 'UNAUTHENTICATED' || error.code === 'TOKEN_EXPIRED')) {
      return options.onAuthError(error.message);
    }
    replaceChildren(
      root,
      h('div', { class: 'page-message' }, h('h1', {}, 'Cannot reach the server'), h('p', {}, String(error))),
    );
    return;
  }
  const who = readToken(options.token);
  const nameInput = h('input', {
    type: 'text',
    class: 'input',
    id: 'shard-name',
    placeholder: 'Project name (optional)',
    maxlength: 120,
  });
  const create = async (template: TemplateSummary, button: HTMLButtonElement) => {
    button.disabled = true;
    try {
      const name = nameInput.value.trim() || `${template.title} project`;
      const { shard } = await rest.createShard({ templateId: template.id, name });
      rememberShard({ id: shard.id, name: shard.name, templateId: shard.templateId });
      location.assign(`/s/${shard.id}`);
    } catch (error) {
      button.disabled = false;
      const forbidden = error instanceof TandemError && error.code === 'FORBIDDEN';
      toast(
        forbidden
          ? 'Your token cannot create projects; ask for one with the create right.'
          : String(error instanceof Error ? error.message : error),
        'error',
      );
    }
  };

  const cards = templates.map((template) => {
    const button = h('button', { type: 'button', class: 'button primary', 'data-action': 'create' }, 'Create');
    button.addEventListener('click', () => void create(template, button));
    const deps = Object.entries(template.dependencies);
    const shown =
      deps.length > 0
        ? deps.slice(0, 3)
        : Object.entries(template.devDependencies).filter(([name]) => name === 'vite' || name === 'typescript');
    return h(
      'article',
      { class: 'template-card', 'data-template-id': template.id },
      h(
        'div',
        { class: 'template-head' },
        h('h3', {}, template.title),
        h('span', { class: `chip runtime-${template.runtime}` }, RUNTIME_LABELS[template.runtime]),
      ),
      template.description === undefined ? null : h('p', { class: 'template-description' }, template.description),
      h(
        'p',
        { class: 'template-meta' },
        h('span', {}, template.framework === 'none' ? 'No framework' : template.framework),
        ' · ',
        h('span', {}, template.language === 'ts' ? 'TypeScript' : 'JavaScript'),
      ),
      h('ul', { class: 'deps' }, ...shown.map(([name, version]) => h('li', {}, h('code', {}, `${name} ${version}`)))),
      h('div', { class: 'template-actions' }, button),
    );
  });

  const recent = listRecent();
  const openInput = h('input', {
    type: 'text',
    class: 'input',
    placeholder: 'Project id (UUID)',
    'aria-label': 'Project id',
  });
  const openForm = h(
    'form',
    {
      class: 'open-form',
      onsubmit: (event: Event) => {
        event.preventDefault();
        const id = openInput.value.trim().replace(/^.*\/s\//, '');
        if (id !== '') location.assign(`/s/${encodeURIComponent(id)}`);
      },
    },
    openInput,
    h('button', { type: 'submit', class: 'button' }, 'Open'),
  );

  replaceChildren(
    root,
    h(
      'div',
      { class: 'home' },
      h(
        'header',
        { class: 'topbar' },
        h('a', { class: 'brand', href: '/' }, h('span', { class: 'logo', 'aria-hidden': 'true' }), 'Tandem'),
        h('span', { class: 'tagline' }, 'Code together, live'),
        h('div', { class: 'spacer' }),
        who === null ? null : h('span', { class: 'chip' }, `Signed in as ${who.name ?? who.sub}`),
      ),
      h(
        'main',
        { class: 'home-main' },
        h(
          'section',
          { class: 'home-section' },
          h('h2', {}, 'Start a project'),
          h('div', { class: 'create-row' }, h('label', { for: 'shard-name' }, 'Name'), nameInput),
          h('div', { class: 'template-grid' }, ...cards),
        ),
        h(
          'section',
          { class: 'home-section two-columns' },
          h(
            'div',
            {},
            h('h2', {}, 'Recent projects'),
            recent.length === 0
              ? h('p', { class: 'muted' }, 'Projects you open appear here.')
              : h(
                  'ul',
                  { class: 'recent-list' },
                  ...recent.map((shard) =>
                    h(
                      'li',
                      { 'data-shard-id': shard.id },
                      h('a', { href: `/s/${shard.id}` }, shard.name),
                      h(
                        'span',
                        { class: 'muted' },
                        ` ${shard.templateId} · ${new Date(shard.openedAt).toLocaleString()}`,
                      ),
                      h(
                        'button',
                        {
                          type: 'button',
                          class: 'icon-button',
                          'aria-label': `Forget ${shard.name}`,
                          onclick: (event: Event) => {
                            forgetShard(shard.id);
                            (event.currentTarget as HTMLElement).closest('li')?.remove();
                          },
                        },
                        '✕',
                      ),
                    ),
                  ),
                ),
          ),
          h('div', {}, h('h2', {}, 'Open a project'), openForm),
        ),
      ),
    ),
  );
}
