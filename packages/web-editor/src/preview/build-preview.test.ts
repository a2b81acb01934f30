import { describe, expect, it } from 'vitest';
import { buildPreview } from './build-preview.js';
import { nextRoutes } from './next-shims.js';
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
    const assets = /const files = new Map\((.*?)\);\n/s.exec(bootstrap)?.[1] ?? '[]';
    const urls = new Map(JSON.parse(assets) as Array<[string, string]>);
    expect([...urls.keys()].sort()).toEqual(['/__proto__', '/constructor', '__proto__', 'constructor']);
    expect(decodeURIComponent(urls.get('__proto__')?.split(',')[1] ?? '')).toBe('proto asset');
  });

  it('serves binary files to <img>, CSS url() and imports (logo.png, logo.svg) as their data: URLs', async () => {
    const png = 'data:image/png;base64,iVBORw0KGgo=';
    const svg = 'data:image/svg+xml;base64,PHN2Zy8+';
    const result = await buildPreview({
      files: {
        'index.html': html('<img id="a" src="logo.png"><script type="module" src="/src/main.js"></script>'),
        'src/main.js': "import logo from './logo.svg';\nimport png from '../logo.png?url';\nexport { logo, png };\n",
        'src/style.css': 'body { background: url(../logo.png); }',
      },
      binaryFiles: { 'logo.png': png, 'src/logo.svg': svg },
      entry: 'index.html',
      framework: 'none',
      importMap: { imports: {} },
    });
    expect(result.problems).toEqual([]);
    expect(result.html).toContain(`<img id="a" src="${png}">`);
    const modules = modulesOf(result.html);
    expect(modules['@tandem-project/src/logo.svg']).toBe(`export default ${JSON.stringify(svg)};\n`);
    expect(modules['@tandem-project/logo.png?url']).toBe(`export default ${JSON.stringify(png)};\n`);
    expect(result.html).toContain(JSON.stringify(['/logo.png', png]).slice(1, -1));
  });

  it('reports a missing file and an undeclared package once each, with their places, as modules that throw', async () => {
    const result = await buildPreview({
      entry: 'index.html',
      framework: 'none',
      importMap: { imports: {} },
      files: {
        'index.html': html('<script type="module" src="/main.js"></script>'),
        'main.js': "import './missing.js';\nimport confetti from 'canvas-confetti/dist';\nimport './other.js';\n",
        'other.js': "import 'canvas-confetti';\n",
      },
    });
    expect(result.problems).toEqual([
      {
        message: 'Cannot find "./missing.js" (imported by main.js)',
        file: 'main.js',
        line: 1,
        column: 9,
        severity: 'error',
      },
      {
        message:
          '"canvas-confetti" is not a dependency in package.json (imported by main.js); add it to "dependencies"',
        file: 'main.js',
        line: 2,
        column: 23,
        severity: 'error',
      },
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
    expect(result.problems[0]?.message).toMatch(/^src\/Broken\.jsx: .* \(src\/Broken\.jsx:1:\d+\)$/);
    expect(result.problems[0]).toMatchObject({ file: 'src/Broken.jsx', line: 1, severity: 'error' });
    expect(result.problems[0]?.frame).toContain('> 1 | export default <div>;');
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

  it('places a syntax error of a TSX file at its line and column, with a code frame', async () => {
    const result = await buildPreview({
      entry: 'index.html',
      framework: 'react',
      importMap: { imports: { react: 'https://cdn.test/react@19.3.1', 'react/': 'https://cdn.test/react@19.3.1/' } },
      files: {
        'index.html': html('<script type="module" src="/src/main.tsx"></script>'),
        'src/main.tsx': 'const a = 1;\nconst b: number = ;\n',
      },
    });
    expect(result.problems).toHaveLength(1);
    expect(result.problems[0]).toMatchObject({ file: 'src/main.tsx', line: 2, column: 19 });
    expect(result.problems[0]?.message).toMatch(/ \(src\/main\.tsx:2:19\)$/);
    expect(result.problems[0]?.frame).toBe(
      '  1 | const a = 1;\n> 2 | const b: number = ;\n    |                   ^\n  3 | ',
    );
  });

  it('gives source maps of compiled modules, so run-time errors can be placed in the source', async () => {
    const result = await buildPreview({
      entry: 'index.html',
      framework: 'react',
      importMap: { imports: { react: 'https://cdn.test/react@19.3.1', 'react/': 'https://cdn.test/react@19.3.1/' } },
      files: {
        'index.html': html('<script type="module" src="/src/main.tsx"></script>'),
        'src/main.tsx': 'type T = { n: number };\nexport const x: T = { n: 1 };\n',
      },
    });
    const map = result.maps['@tandem-project/src/main.tsx'];
    expect(map?.map.sources).toEqual(['src/main.tsx']);
    expect(map?.lineOffset).toBe(0);
  });

  it('lists an unusable dependency once, and makes importing it an error with the same line', async () => {
    const input = {
      entry: 'index.html',
      framework: 'none',
      importMap: { imports: {} },
      unusable: { local: 'local@file:../x is not a version or range a CDN can resolve' },
      files: { 'index.html': html('<script type="module" src="/main.js"></script>'), 'main.js': '' },
    };
    const quiet = await buildPreview(input);
    expect(quiet.problems).toEqual([
      {
        message: 'local@file:../x is not a version or range a CDN can resolve',
        file: 'package.json',
        severity: 'warning',
      },
    ]);
    const imported = await buildPreview({
      ...input,
      files: { ...input.files, 'main.js': "import 'local';\nimport 'local/x';\n" },
    });
    expect(imported.problems).toEqual([
      {
        message: 'local@file:../x is not a version or range a CDN can resolve',
        file: 'package.json',
        severity: 'error',
      },
    ]);
  });

  it('compiles Angular with its decorators and inlines templateUrl and styleUrl, after @angular/compiler', async () => {
    const angular = Object.fromEntries(
      ['core', 'compiler', 'platform-browser'].flatMap((n) => [
        [`@angular/${n}`, `https://cdn.test/@angular/${n}@22.2.6`],
        [`@angular/${n}/`, `https://cdn.test/*@angular/${n}@22.2.6/`],
      ]),
    );
    const result = await buildPreview({
      entry: 'src/main.ts',
      framework: 'angular',
      importMap: { imports: angular },
      files: {
        'angular.json': JSON.stringify({
          projects: {
            app: { architect: { build: { options: { browser: 'src/main.ts', styles: ['src/styles.css'] } } } },
          },
        }),
        'src/index.html': '<!doctype html><html><head><title>A</title></head><body><app-root></app-root></body></html>',
        'src/styles.css': 'body { margin: 0 }',
        'src/main.ts':
          "import { bootstrapApplication } from '@angular/platform-browser';\nimport { App } from './app/app';\nbootstrapApplication(App);\n",
        'src/app/app.ts':
          "import { Component, signal } from '@angular/core';\n@Component({ selector: 'app-root', templateUrl: './app.html', styleUrl: './app.css' })\nexport class App {\n  protected readonly n = signal<number>(1);\n}\n",
        'src/app/app.html': '<h1>{{ n() }}</h1>',
        'src/app/app.css': 'h1 { color: red }',
      },
    });
    expect(result.problems).toEqual([]);
    expect(result.html).toContain('await import(\'@angular/compiler\'); await import("@tandem-project/src/main.ts")');
    expect(result.html).toContain('<style data-tandem-file="src/styles.css">body { margin: 0 }</style>');
    const app = modulesOf(result.html)['@tandem-project/src/app/app.ts'] ?? '';
    expect(app).toContain('template: "<h1>{{ n() }}</h1>"');
    expect(app).toContain('styles: ["h1 { color: red }"]');
    expect(app).toMatch(/Component\(\{/);
    expect(app).not.toContain('signal<number>');
    expect(modulesOf(result.html)['@tandem-project/src/main.ts']).toContain('"@tandem-project/src/app/app.ts"');

    const missing = await buildPreview({
      entry: 'src/main.ts',
      framework: 'angular',
      importMap: { imports: angular },
      files: {
        'src/main.ts':
          "import { Component } from '@angular/core';\n@Component({ selector: 'x', templateUrl: './nope.html' })\nexport class X {}\n",
      },
    });
    expect(missing.problems[0]).toMatchObject({ file: 'src/main.ts', line: 2, severity: 'error' });
    expect(missing.problems[0]?.message).toContain('templateUrl "./nope.html" names no file of the project');
  });

  it('turns pages/ into Next.js routes with our next/* shims, and names a next/* module it does not cover', async () => {
    const react = {
      react: 'https://cdn.test/react@19.3.1',
      'react/': 'https://cdn.test/react@19.3.1/',
      'react-dom': 'https://cdn.test/react-dom@19.3.1',
      'react-dom/': 'https://cdn.test/react-dom@19.3.1/',
      next: 'https://cdn.test/next@16.4.6',
      'next/': 'https://cdn.test/next@16.4.6/',
    };
    const result = await buildPreview({
      entry: 'pages/index.js',
      framework: 'next',
      importMap: { imports: react },
      files: {
        'pages/_app.js':
          'export default function App({ Component, pageProps }) { return <Component {...pageProps} />; }\n',
        'pages/index.js':
          'import Link from \'next/link\';\nexport default function Home() { return <Link href="/posts/1">x</Link>; }\n',
        'pages/posts/[id].js':
          "import { useRouter } from 'next/router';\nexport default function P() { return <p>{useRouter().query.id}</p>; }\n",
        'pages/api/hello.js': 'export default function handler(req, res) { res.json({ ok: true }); }\n',
        'pages/font.js': "import { Inter } from 'next/font/google';\nexport default function F() { return null; }\n",
      },
    });
    const modules = modulesOf(result.html);
    expect(result.html).toContain('<div id="__next"></div>');
    expect(modules['next/link']).toContain('Router');
    expect(modules['next/router']).toContain('export function useRouter');
    const entry = modules['@tandem-project/__next__/entry.js'] ?? '';
    expect(entry).toContain('pattern: "/posts/[id]"');
    expect(entry).toContain('pattern: "/api/hello"');
    expect(entry).toContain('import App from "@tandem-project/pages/_app.js"');
    expect(modules['@tandem-project/pages/index.js']).toContain('react/jsx-runtime');
    expect(result.problems.map((p) => p.message)).toEqual([
      '"next/font/google" is not covered by the browser preview of Next.js (imported by pages/font.js); it covers next/router, next/link, next/head, next/image, next/dynamic, next/script. Download the project and run it with Next.js for the rest.',
    ]);
  });

  it('serves binary files to a Next.js page: a static import for next/image, and /logo.png for the page at run time', async () => {
    const png = 'data:image/png;base64,iVBORw0KGgo=';
    const result = await buildPreview({
      entry: 'pages/index.js',
      framework: 'next',
      importMap: { imports: { react: 'https://cdn.test/react@19.3.1', 'react/': 'https://cdn.test/react@19.3.1/' } },
      files: {
        'pages/index.js':
          "import Image from 'next/image';\nimport logo from '../public/logo.png';\nexport default function Home() { return <Image src={logo} alt=\"\" />; }\n",
      },
      binaryFiles: { 'public/logo.png': png },
    });
    expect(result.problems).toEqual([]);
    const modules = modulesOf(result.html);
    expect(modules['@tandem-project/public/logo.png']).toBe(`export default ${JSON.stringify(png)};\n`);
    expect(modules['@tandem-project/pages/index.js']).toContain('"@tandem-project/public/logo.png"');
    // The run-time map of the page's files: `<img src="/logo.png">` and fetch('/logo.png') get the bytes.
    expect(result.html).toContain(JSON.stringify(['/logo.png', png]).slice(1, -1));
  });
});

describe('Next.js routes', () => {
  it('orders static before dynamic before catch-all, and leaves out _app, _document and api/', () => {
    const { pages, apis } = nextRoutes([
      'pages/index.js',
      'pages/[slug].js',
      'pages/blog/index.jsx',
      'pages/blog/[...rest].js',
      'pages/blog/new.tsx',
      'pages/_app.js',
      'pages/_document.js',
      'pages/api/hello.js',
      'pages/api/users/[id].ts',
      'styles/x.css',
    ]);
    expect(pages.map((p) => p.pattern)).toEqual(['/', '/blog', '/blog/new', '/blog/[...rest]', '/[slug]']);
    expect(apis.map((p) => p.pattern)).toEqual(['/api/hello', '/api/users/[id]']);
  });
});
