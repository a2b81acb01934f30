import { describe, expect, it } from 'vitest';
import { buildImportMap, planImportMap, isFrameworkRuntime } from './import-map.js';

const ESM_SH = { cdnBaseUrl: 'https://esm.sh' };

// The runtime dependencies of the shipped browser templates (template-data/<id>/template.json).
const TEMPLATE_DEPENDENCIES = {
  react: { react: '19.3.1', 'react-dom': '19.3.1' },
  vue: { vue: '3.5.45' },
  svelte: { svelte: '5.57.3' },
  preact: { preact: '10.29.8' },
  solid: { 'solid-js': '1.9.19' },
};

describe('buildImportMap for the shipped templates', () => {
  it('react: react-dom externalises react (and react react-dom), both with prefix entries', () => {
    expect(buildImportMap(TEMPLATE_DEPENDENCIES.react, ESM_SH)).toEqual({
      imports: {
        react: 'https://esm.sh/react@19.3.1?external=react-dom',
        'react-dom': 'https://esm.sh/react-dom@19.3.1?external=react',
        'react-dom/': 'https://esm.sh/react-dom@19.3.1&external=react/',
        'react/': 'https://esm.sh/react@19.3.1&external=react-dom/',
      },
    });
  });

  it('vue', () => {
    expect(buildImportMap(TEMPLATE_DEPENDENCIES.vue, ESM_SH)).toEqual({
      imports: { vue: 'https://esm.sh/vue@3.5.45', 'vue/': 'https://esm.sh/vue@3.5.45/' },
    });
  });

  it('svelte: the prefix entry serves svelte/internal/client', () => {
    const map = buildImportMap(TEMPLATE_DEPENDENCIES.svelte, ESM_SH);
    expect(map).toEqual({
      imports: { svelte: 'https://esm.sh/svelte@5.57.3', 'svelte/': 'https://esm.sh/svelte@5.57.3/' },
    });
    expect(resolve(map.imports, 'svelte/internal/client')).toBe('https://esm.sh/svelte@5.57.3/internal/client');
  });

  it('preact: pinned 10.29.8, jsx-runtime through the prefix entry', () => {
    const map = buildImportMap(TEMPLATE_DEPENDENCIES.preact, ESM_SH);
    expect(map).toEqual({
      imports: { preact: 'https://esm.sh/preact@10.29.8', 'preact/': 'https://esm.sh/preact@10.29.8/' },
    });
    expect(resolve(map.imports, 'preact/hooks')).toBe('https://esm.sh/preact@10.29.8/hooks');
  });

  it('solid: solid-js/web through the prefix entry', () => {
    const map = buildImportMap(TEMPLATE_DEPENDENCIES.solid, ESM_SH);
    expect(map).toEqual({
      imports: { 'solid-js': 'https://esm.sh/solid-js@1.9.19', 'solid-js/': 'https://esm.sh/solid-js@1.9.19/' },
    });
    expect(resolve(map.imports, 'solid-js/web')).toBe('https://esm.sh/solid-js@1.9.19/web');
  });

  it('snapshots every template in dev mode against a local CDN mirror', () => {
    const maps = Object.fromEntries(
      Object.entries(TEMPLATE_DEPENDENCIES).map(([id, deps]) => [
        id,
        buildImportMap(deps, { cdnBaseUrl: 'http://127.0.0.1:4000/cdn/', dev: true }).imports,
      ]),
    );
    expect(maps).toMatchInlineSnapshot(`
      {
        "preact": {
          "preact": "http://127.0.0.1:4000/cdn/preact@10.29.8?dev",
          "preact/": "http://127.0.0.1:4000/cdn/preact@10.29.8&dev/",
        },
        "react": {
          "react": "http://127.0.0.1:4000/cdn/react@19.3.1?external=react-dom&dev",
          "react-dom": "http://127.0.0.1:4000/cdn/react-dom@19.3.1?external=react&dev",
          "react-dom/": "http://127.0.0.1:4000/cdn/react-dom@19.3.1&external=react&dev/",
          "react/": "http://127.0.0.1:4000/cdn/react@19.3.1&external=react-dom&dev/",
        },
        "solid": {
          "solid-js": "http://127.0.0.1:4000/cdn/solid-js@1.9.19?dev",
          "solid-js/": "http://127.0.0.1:4000/cdn/solid-js@1.9.19&dev/",
        },
        "svelte": {
          "svelte": "http://127.0.0.1:4000/cdn/svelte@5.57.3?dev",
          "svelte/": "http://127.0.0.1:4000/cdn/svelte@5.57.3&dev/",
        },
        "vue": {
          "vue": "http://127.0.0.1:4000/cdn/vue@3.5.45?dev",
          "vue/": "http://127.0.0.1:4000/cdn/vue@3.5.45&dev/",
        },
      }
    `);
  });
});

describe('the external rule', () => {
  it('makes every mapped package externalise every other mapped framework runtime, never ordinary libraries', () => {
    const map = buildImportMap(
      {
        react: '19.3.1',
        'react-dom': '19.3.1',
        'react-router': '7.9.4',
        zustand: '5.0.8',
        'date-fns': '4.1.0',
        '@types/react': '19.3.0',
      },
      ESM_SH,
    );
    expect(map.imports).toEqual({
      'date-fns': 'https://esm.sh/date-fns@4.1.0?external=react,react-dom',
      'date-fns/': 'https://esm.sh/date-fns@4.1.0&external=react,react-dom/',
      react: 'https://esm.sh/react@19.3.1?external=react-dom',
      'react-dom': 'https://esm.sh/react-dom@19.3.1?external=react',
      'react-dom/': 'https://esm.sh/react-dom@19.3.1&external=react/',
      'react-router': 'https://esm.sh/react-router@7.9.4?external=react,react-dom',
      'react-router/': 'https://esm.sh/react-router@7.9.4&external=react,react-dom/',
      'react/': 'https://esm.sh/react@19.3.1&external=react-dom/',
      zustand: 'https://esm.sh/zustand@5.0.8?external=react,react-dom',
      'zustand/': 'https://esm.sh/zustand@5.0.8&external=react,react-dom/',
    });
  });

  it('gives each mapped name exactly one URL, so a runtime cannot be loaded twice', () => {
    const deps = { vue: '3.5.45', 'vue-router': '4.6.3', pinia: '3.0.3', '@vue/shared': '3.5.45' };
    const { imports } = buildImportMap(deps, ESM_SH);
    for (const name of Object.keys(deps)) {
      const externals = new URL(imports[name] ?? '').searchParams.get('external')?.split(',') ?? [];
      // Every runtime any other package could import is left to the map…
      for (const other of Object.keys(deps)) {
        if (other !== name && isFrameworkRuntime(other)) expect(externals).toContain(other);
      }
      // …and a package never externalises itself.
      expect(externals).not.toContain(name);
    }
    expect(Object.keys(imports)).toHaveLength(2 * Object.keys(deps).length);
  });

  it('knows the framework families', () => {
    for (const name of [
      'react',
      'react-dom',
      'preact',
      'vue',
      '@vue/runtime-dom',
      'svelte',
      'solid-js',
      '@angular/core',
      'rxjs',
      'lit',
    ]) {
      expect(isFrameworkRuntime(name), name).toBe(true);
    }
    for (const name of [
      'react-router',
      'vue-router',
      'solid-js-extra',
      'lodash',
      'tslib',
      'preact-iso',
      '@vueuse/core',
    ]) {
      expect(isFrameworkRuntime(name), name).toBe(false);
    }
  });
});

describe('CDN base URL', () => {
  const deps = { react: '19.3.1', 'react-dom': '19.3.1' };

  it('gives the same map with or without a trailing slash', () => {
    expect(buildImportMap(deps, { cdnBaseUrl: 'https://esm.sh/' })).toEqual(buildImportMap(deps, ESM_SH));
    expect(buildImportMap(deps, { cdnBaseUrl: 'https://esm.sh//' })).toEqual(buildImportMap(deps, ESM_SH));
  });

  it('keeps a path prefix of a local mirror', () => {
    for (const cdnBaseUrl of ['http://127.0.0.1:4000/cdn', 'http://127.0.0.1:4000/cdn/']) {
      const { imports } = buildImportMap(deps, { cdnBaseUrl });
      expect(imports['react-dom']).toBe('http://127.0.0.1:4000/cdn/react-dom@19.3.1?external=react');
      expect(resolve(imports, 'react-dom/client')).toBe(
        'http://127.0.0.1:4000/cdn/react-dom@19.3.1&external=react/client',
      );
      expect(resolve(imports, 'react/jsx-runtime')).toBe(
        'http://127.0.0.1:4000/cdn/react@19.3.1&external=react-dom/jsx-runtime',
      );
    }
  });

  it('refuses bases that are not absolute http(s) URLs without a query', () => {
    for (const cdnBaseUrl of [
      'esm.sh',
      '/cdn',
      'ftp://example.test',
      'https://esm.sh?target=es2022',
      'https://esm.sh/#x',
      '',
    ]) {
      expect(() => buildImportMap(deps, { cdnBaseUrl }), cdnBaseUrl).toThrow(TypeError);
    }
  });
});

describe('determinism and validation', () => {
  it('sorts keys whatever the input order', () => {
    const a = buildImportMap({ vue: '3.5.45', 'vue-router': '4.6.3', axios: '1.13.2' }, ESM_SH);
    const b = buildImportMap({ axios: '1.13.2', 'vue-router': '4.6.3', vue: '3.5.45' }, ESM_SH);
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
    const keys = Object.keys(a.imports);
    expect(keys).toEqual([...keys].sort());
  });

  it('maps nothing for no dependencies', () => {
    expect(buildImportMap({}, ESM_SH)).toEqual({ imports: {} });
  });

  it('supports scoped packages and prerelease versions', () => {
    expect(buildImportMap({ '@preact/signals': '2.3.1', 'lib-x': '1.0.0-beta.2' }, ESM_SH).imports).toEqual({
      '@preact/signals': 'https://esm.sh/@preact/signals@2.3.1',
      '@preact/signals/': 'https://esm.sh/@preact/signals@2.3.1/',
      'lib-x': 'https://esm.sh/lib-x@1.0.0-beta.2?external=@preact/signals',
      // A scoped external cannot be written in esm.sh's `&external=` path form: `*` (all external).
      'lib-x/': 'https://esm.sh/*lib-x@1.0.0-beta.2/',
    });
  });

  it('passes ranges and tags through to the CDN, encoded where a URL needs it', () => {
    expect(
      buildImportMap({ 'canvas-confetti': '^1.9.3', lodash: '>=4 <5', nanoid: '~5.1.0', ms: 'latest' }, ESM_SH).imports,
    ).toEqual({
      'canvas-confetti': 'https://esm.sh/canvas-confetti@^1.9.3',
      'canvas-confetti/': 'https://esm.sh/canvas-confetti@^1.9.3/',
      lodash: 'https://esm.sh/lodash@%3E%3D4%20%3C5',
      'lodash/': 'https://esm.sh/lodash@%3E%3D4%20%3C5/',
      ms: 'https://esm.sh/ms@latest',
      'ms/': 'https://esm.sh/ms@latest/',
      nanoid: 'https://esm.sh/nanoid@~5.1.0',
      'nanoid/': 'https://esm.sh/nanoid@~5.1.0/',
    });
  });

  it('refuses versions no CDN can resolve and names that could inject into a URL, listing them all', () => {
    expect(() =>
      buildImportMap(
        { react: 'file:../react', vue: 'github:vuejs/core', 'x?external=y': '1.0.0', ok: '1.0.0' },
        ESM_SH,
      ),
    ).toThrow(
      /react@file:\.\.\/react is not a version or range a CDN can resolve .*; vue@github:vuejs\/core is not a version .*; "x\?external=y" is not a valid package name/,
    );
  });

  it('plans a map without the unusable dependencies, one reason each', () => {
    const plan = planImportMap({ react: '19.3.1', broken: '1.0.0?x=1', local: 'link:../local' }, ESM_SH);
    expect(Object.keys(plan.importMap.imports)).toEqual(['react', 'react/']);
    expect(plan.unusable.map((u) => u.name)).toEqual(['broken', 'local']);
    expect(plan.unusable[0]?.reason).toContain('broken@1.0.0?x=1');
  });
});

/** Resolves a bare specifier the way a browser applies an import map's `imports`. */
function resolve(imports: Record<string, string>, specifier: string): string | undefined {
  if (Object.hasOwn(imports, specifier)) return imports[specifier];
  const prefix = Object.keys(imports)
    .filter((key) => key.endsWith('/') && specifier.startsWith(key))
    .sort((a, b) => b.length - a.length)[0];
  return prefix === undefined ? undefined : `${imports[prefix]}${specifier.slice(prefix.length)}`;
}
