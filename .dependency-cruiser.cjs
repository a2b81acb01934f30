/**
 * Import rules of the server (see STYLE.md §1): imports point down the layers, modules of one
 * layer do not import each other, other folders enter a folder only through its index.ts, and
 * nothing is circular. `npm run lint` runs this.
 */
const S = '^packages/server/src/';
const layers = [
  ['main.ts$'],
  ['app.ts$'],
  ['http/', 'realtime/', 'web/'],
  ['shards/', 'sync-jobs/'],
  ['shard-cache/', 'templates/', 'auth/'],
  ['persistence/', 'redis/', 'metrics/'],
  ['config/', 'logging/', 'faults/'],
  ['errors/'],
];
const alt = (parts) => `${S}(${parts.join('|')})`;

const forbidden = [
  { name: 'no-circular', severity: 'error', from: {}, to: { circular: true } },
  {
    name: 'protocol-is-pure',
    comment: 'The wire contract imports nothing from Node, the server or the SDK.',
    severity: 'error',
    from: { path: '^packages/protocol/src/' },
    to: { path: '^(packages/(server|client-sdk|web-editor)/|node:)', dependencyTypes: ['local', 'core', 'npm'] },
  },
  {
    name: 'sdk-imports-only-protocol',
    severity: 'error',
    from: { path: '^packages/client-sdk/src/' },
    to: { path: '^packages/(server|web-editor)/' },
  },
  {
    name: 'web-imports-only-sdk-and-protocol',
    severity: 'error',
    from: { path: '^packages/web-editor/src/' },
    to: { path: '^packages/server/' },
  },
  {
    name: 'enter-folders-through-index',
    comment: 'Another folder is imported only through its index.ts.',
    severity: 'error',
    from: { path: `${S}([^/]+)/` },
    to: { path: `${S}([^/]+)/(?!index\\.ts$)`, pathNot: `${S}$1/` },
  },
];
for (let i = 0; i < layers.length; i++) {
  const higher = layers.slice(0, i).flat();
  if (higher.length > 0) {
    forbidden.push({
      name: `layer-${i}-does-not-import-up`,
      severity: 'error',
      from: { path: alt(layers[i]), pathNot: '\\.test\\.ts$' },
      to: { path: alt(higher) },
    });
  }
  for (const part of layers[i]) {
    const siblings = layers[i].filter((p) => p !== part);
    if (siblings.length > 0) {
      forbidden.push({
        name: `no-sibling-imports-${part.replace(/\W/g, '')}`,
        severity: 'error',
        from: { path: `${S}${part}`, pathNot: '\\.test\\.ts$' },
        to: { path: alt(siblings) },
      });
    }
  }
}

module.exports = {
  forbidden,
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(node_modules|dist|template-data)' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.check.json' },
    enhancedResolveOptions: { conditionNames: ['source', 'import', 'default'], exportsFields: ['exports'] },
  },
};
