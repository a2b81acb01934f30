import { describe, expect, it } from 'vitest';
import { buildPreview } from './build-preview.js';
import { joinPath, resolveProjectPath } from './project-paths.js';

/** The modules of a built preview, name → source (decoded from their data: URLs). */
function modulesOf(html: string): Record<string, string> {
  const json = /<script type="importmap">(.*?)<\/script>/s.exec(html)?.[1] ?? '{}';
  const { imports } = JSON.parse(json) as { imports: Record<string, string> };
  return Object.fromEntries(
    Object.entries(imports).map(([key, url]) => [
      key,
      url.startsWith('data:') ? decodeURIComponent(url.slice(url.indexOf(',') + 1)) : url,
    ]),
  );
}

const html = (body: string) => `<!doctype html><html><head><title>t</title></head><body>${body}</body></html>`;

describe('project paths', () => {
  it('resolves like Vite: relative, root-absolute, public/, extensions and index files', () => {
    const files = new Set(['src/main.ts', 'src/App.tsx', 'src/lib/index.js', 'public/logo.svg', 'index.html']);
    const exists = (p: string) => files.has(p);
    expect(resolveProjectPath('./App', 'src/main.ts', exists)).toBe('src/App.tsx');
    expect(resolveProjectPath('./lib', 'src/main.ts', exists)).toBe('src/lib/index.js');
    expect(resolveProjectPath('/src/main.ts', 'index.html', exists)).toBe('src/main.ts');
    expect(resolveProjectPath('/logo.svg', 'src/App.tsx', exists)).toBe('public/logo.svg');
    expect(resolveProjectPath('../../x', 'src/main.ts', exists)).toBeNull();
    expect(joinPath('src/a', '../b/./c.js')).toBe('src/b/c.js');
  });
});

describe('buildPreview', () => {
  it('compiles modules, rewrites project imports to import-map names, and keeps mapped packages bare', async () => {
    const result = await buildPreview({
      entry: 'index.html',
      framework: 'react',
      importMap: { imports: { react: 'https://cdn.test/react@19.3.1', 'react/': 'https://cdn.test/react@19.3.1/' } },
      files: {
        'index.html': html('<div id="root"></div><script type="module" src="/src/main.tsx"></script>'),
        'src/main.tsx':
          "import './style.css';\nimport { App } from './App';\nconst n: number = 1;\nexport default <App n={n} />;\n",
        'src/App.tsx':
          "import { useState } from 'react';\nexport function App(props: { n: number }) {\n  const [n] = useState(props.n);\n  return <p>{n}</p>;\n}\n",
        'src/style.css': 'body { background: url(/bg.svg); }',
        'public/bg.svg': '<svg xmlns="http://www.w3.org/2000/svg"/>',
      },
    });
    expect(result.problems).toEqual([]);
    expect(result.html).toContain(
      '<script type="module">import("@tandem-project/src/main.tsx").catch(__tandemError);</script>',
    );
    const modules = modulesOf(result.html);
    expect(modules['react']).toBe('https://cdn.test/react@19.3.1');
    expect(modules['@tandem-project/src/main.tsx']).toContain('"@tandem-project/src/App.tsx"');
    expect(modules['@tandem-project/src/main.tsx']).toContain('from "react/jsx-runtime"');
    expect(modules['@tandem-project/src/main.tsx']).not.toContain(': number');
    expect(modules['@tandem-project/src/App.tsx']).toContain("from 'react'");
    expect(modules['@tandem-project/src/style.css']).toContain('data:image/svg+xml');
    // The bootstrap (error overlay, asset URLs) is valid JavaScript.
    const bootstrap = /<script>(\(\(\) => \{.*?\}\)\(\);)<\/script>/s.exec(result.html)?.[1];
    expect(bootstrap).toBeDefined();
    expect(() => new Function(bootstrap ?? '')).not.toThrow();
  });

  it('maps assets named like Object.prototype members (__proto__, constructor) like any other name', async () => {
    const files = Object.fromEntries([
      ['index.html', html('<img src="__proto__"><img src="/constructor">')],
      ['__proto__', 'proto asset'],
      ['constructor', 'constructor asset'],
    ]);
    const result = await buildPreview({ entry: 'index.html', framework: 'none', importMap: { imports: {} }, files });
    expect(result.problems).toEqual([]);
    const bootstrap = /<script>(\(\(\) => \{.*?\}\)\(\);)<\/script>/s.exec(result.html)?.[1] ?? '';
    const assets = /const assets = new Map\((.*?)\);\n/s.exec(bootstrap)?.[1] ?? '[]';
    const urls = new Map(JSON.parse(assets) as Array<[string, string]>);
    expect([...urls.keys()].sort()).toEqual(['/__proto__', '/constructor', '__proto__', 'constructor']);
    expect(decodeURIComponent(urls.get('__proto__')?.split(',')[1] ?? '')).toBe('proto asset');
  });

  it('reports a missing file and an undeclared package as problems that also show in the page', async () => {
    const result = await buildPreview({
      entry: 'index.html',
      framework: 'none',
      importMap: { imports: {} },
      files: {
        'index.html': html('<script type="module" src="/main.js"></script>'),
        'main.js': "import './missing.js';\nimport confetti from 'canvas-confetti/dist';\n",
      },
    });
    expect(result.problems).toEqual([
      'Cannot find "./missing.js" (imported by main.js)',
      '"canvas-confetti" is not a dependency in package.json (imported by main.js); add it with an exact version',
    ]);
    expect(result.html).toContain('canvas-confetti');
  });

  it('compiles a Vue SFC with scoped CSS, and a file that fails to compile becomes a throwing module', async () => {
    const result = await buildPreview({
      entry: 'index.html',
      framework: 'vue',
      importMap: { imports: { vue: 'https://cdn.test/vue@3.5.45', 'vue/': 'https://cdn.test/vue@3.5.45/' } },
      files: {
        'index.html': html('<script type="module" src="/src/main.js"></script>'),
        'src/main.js': "import App from './App.vue';\nimport './Broken.jsx';\n",
        'src/App.vue':
          '<script setup>\nconst n = 1;\n</script>\n<template><h1>{{ n }}</h1></template>\n<style scoped>h1 { color: red; }</style>\n',
        'src/Broken.jsx': 'export default <div>;',
      },
    });
    const modules = modulesOf(result.html);
    expect(modules['@tandem-project/src/App.vue']).toMatch(/h1\[data-v-[0-9a-f]{8}\]/);
    expect(modules['@tandem-project/src/App.vue']).toContain('export default __sfc__');
    expect(result.problems).toHaveLength(1);
    expect(result.problems[0]).toMatch(/^src\/Broken\.jsx: /);
    expect(modules['@tandem-project/src/Broken.jsx']).toMatch(/^throw new Error/);
  });

  it('inlines stylesheet links and classic scripts of a static site', async () => {
    const result = await buildPreview({
      entry: 'index.html',
      framework: 'none',
      importMap: { imports: {} },
      files: {
        'index.html': html(
          '<link rel="stylesheet" href="style.css"><img src="logo.svg"><script src="app.js"></script>',
        ),
        'style.css': 'h1 { color: blue }',
        'app.js': 'document.title = "</script>";',
        'logo.svg': '<svg/>',
      },
    });
    expect(result.html).toContain('<style data-tandem-file="style.css">h1 { color: blue }</style>');
    expect(result.html).toContain('<img src="data:image/svg+xml;charset=utf-8,%3Csvg%2F%3E">');
    expect(result.html).toContain('<script>document.title = "<\\/script>";</script>');
  });
});
