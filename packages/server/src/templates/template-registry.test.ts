import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AppError } from '../errors/index.js';
import { createTemplateRegistry, defaultTemplateDataDir } from './index.js';

const SHIPPED_IDS = [
  'angular',
  'nextjs',
  'node',
  'preact',
  'react',
  'react-ts',
  'solid',
  'static',
  'svelte',
  'svelte-ts',
  'vanilla',
  'vanilla-ts',
  'vue',
  'vue-ts',
];

describe('the shipped catalogue', () => {
  const registry = createTemplateRegistry();

  it('loads all 14 templates from the default folder, sorted by id', () => {
    expect(registry.list().map((t) => t.id)).toEqual(SHIPPED_IDS);
  });

  it('resolves the default folder two levels above src/templates (as from dist/templates)', () => {
    expect(defaultTemplateDataDir().replaceAll('\\', '/')).toMatch(/\/packages\/server\/template-data\/$/);
  });

  it('lists summaries whose files are the sorted paths of the template', () => {
    for (const summary of registry.list()) {
      const template = registry.get(summary.id);
      expect(template).toBeDefined();
      expect(summary.files).toEqual(Object.keys(template?.files ?? {}).sort());
      expect(summary.files).toContain(summary.entry);
      expect(summary.files).toContain(summary.activeFile);
      expect(summary).not.toHaveProperty('startScript');
    }
  });

  it('returns deeply frozen templates and undefined for unknown ids', () => {
    const react = registry.get('react');
    expect(react?.dependencies).toEqual({ react: '19.3.1', 'react-dom': '19.3.1' });
    expect(Object.isFrozen(react)).toBe(true);
    expect(Object.isFrozen(react?.files['src/App.jsx'])).toBe(true);
    expect(registry.get('no-such-template')).toBeUndefined();
    expect(registry.get('__proto__')).toBeUndefined();
    expect(registry.get('constructor')).toBeUndefined();
  });

  it('pins the versions the catalogue promises', () => {
    expect(registry.get('preact')?.dependencies).toEqual({ preact: '10.29.8' });
    expect(registry.get('preact')?.devDependencies['@preact/preset-vite']).toBe('2.10.6');
    expect(registry.get('preact')?.notes).toMatch(/10\.29\.8/);
    for (const summary of registry.list()) {
      const all = { ...summary.dependencies, ...summary.devDependencies };
      if ('typescript' in all) expect(all.typescript).toBe('6.0.3');
      if ('vite' in all) expect(all.vite).toBe('8.3.8');
    }
  });

  it('marks Node templates with a start script and browser templates with transforms', () => {
    expect(registry.get('nextjs')).toMatchObject({ runtime: 'browser', startScript: 'dev', framework: 'next' });
    expect(registry.get('angular')?.transforms).toEqual(['ts', 'angular-jit']);
    expect(registry.get('node')).toMatchObject({ runtime: 'node', startScript: 'dev' });
    expect(registry.get('static')).toMatchObject({ runtime: 'static', transforms: [], dependencies: {} });
    expect(registry.get('vue-ts')?.transforms).toEqual(['vue-sfc', 'ts']);
    expect(registry.get('solid')?.transforms).toEqual(['ts', 'solid-jsx']);
  });
});

describe('a broken catalogue', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  /** Writes `<root>/<folder>/template.json` and `<root>/<folder>/files/**`. */
  function writeTemplate(
    root: string,
    folder: string,
    manifest: Record<string, unknown> | string,
    files: Record<string, string | Buffer>,
  ): void {
    const base = join(root, folder);
    mkdirSync(join(base, 'files'), { recursive: true });
    writeFileSync(join(base, 'template.json'), typeof manifest === 'string' ? manifest : JSON.stringify(manifest));
    for (const [path, content] of Object.entries(files)) {
      const target = join(base, 'files', path);
      mkdirSync(dirname(target), { recursive: true });
      writeFileSync(target, content);
    }
  }

  function manifest(id: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
    return {
      id,
      revision: 1,
      title: `Template ${id}`,
      framework: 'none',
      language: 'js',
      runtime: 'browser',
      transforms: [],
      entry: 'index.html',
      activeFile: 'src/main.js',
      dependencies: {},
      devDependencies: { vite: '8.3.8' },
      ...overrides,
    };
  }

  const packageJson = (deps: Record<string, unknown>): string => JSON.stringify({ name: 'x', private: true, ...deps });

  function tempRoot(): string {
    const dir = mkdtempSync(join(tmpdir(), 'tandem-templates-'));
    dirs.push(dir);
    return dir;
  }

  function problemsOf(root: string): string[] {
    try {
      createTemplateRegistry(root);
    } catch (error) {
      expect(error).toBeInstanceOf(AppError);
      const details = (error as AppError).details;
      const problems = details?.problems;
      expect(Array.isArray(problems)).toBe(true);
      const list = problems as string[];
      for (const problem of list) expect((error as AppError).message).toContain(problem);
      return list;
    }
    throw new Error('createTemplateRegistry did not throw');
  }

  it('accepts a valid minimal template, carries binary files as base64 and applies fileOptions', () => {
    const root = tempRoot();
    const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0xff]);
    writeTemplate(root, 'ok', manifest('ok', { fileOptions: { '.gitignore': { hidden: true, readOnly: true } } }), {
      'index.html': '<script type="module" src="/src/main.js"></script>',
      'src/main.js': 'console.log(1)',
      'public/logo.png': png,
      '.gitignore': 'node_modules\n',
      'package.json': packageJson({ devDependencies: { vite: '8.3.8' } }),
    });
    const registry = createTemplateRegistry(root);
    const template = registry.get('ok');
    expect(template?.files['public/logo.png']).toEqual({ content: png.toString('base64'), encoding: 'base64' });
    expect(template?.files['src/main.js']).toEqual({ content: 'console.log(1)' });
    expect(template?.files['.gitignore']).toEqual({ content: 'node_modules\n', hidden: true, readOnly: true });
    expect(registry.list()[0]?.files).toEqual([
      '.gitignore',
      'index.html',
      'package.json',
      'public/logo.png',
      'src/main.js',
    ]);
  });

  it('reports every problem of every template in one error', () => {
    const root = tempRoot();
    const valid = {
      'index.html': '<p>hi</p>',
      'src/main.js': '',
      'package.json': packageJson({ devDependencies: { vite: '8.3.8' } }),
    };
    // A path that decodes to ".." once a web server decodes it.
    writeTemplate(root, 'bad-path', manifest('bad-path'), { ...valid, 'src/%2e%2e': 'x' });
    writeTemplate(
      root,
      'missing-entry',
      manifest('missing-entry', { entry: 'main.html', openFiles: ['nope.js'] }),
      valid,
    );
    writeTemplate(root, 'disagreeing', manifest('disagreeing', { dependencies: { react: '19.3.1' } }), {
      ...valid,
      'package.json': packageJson({ dependencies: { react: '19.2.0', 'left-pad': '1.3.0' }, devDependencies: {} }),
    });
    writeTemplate(
      root,
      'ranged',
      manifest('ranged', { dependencies: { react: '^19.3.1' }, devDependencies: { vite: 'latest' } }),
      valid,
    );
    writeTemplate(root, 'case-twins', manifest('case-twins'), { ...valid, 'src/App.js': '', 'src/app.js': '' });
    writeTemplate(root, 'wrong-id', manifest('other-id'), valid);
    writeTemplate(root, 'Bad_Folder', manifest('Bad_Folder'), valid);
    writeTemplate(root, 'not-json', '{ "id": ', valid);
    writeTemplate(root, 'no-package-json', manifest('no-package-json'), { 'index.html': '', 'src/main.js': '' });
    writeTemplate(root, 'bad-package-json', manifest('bad-package-json'), { ...valid, 'package.json': '{ nope' });
    writeTemplate(root, 'node-no-start', manifest('node-no-start', { runtime: 'node' }), valid);
    writeTemplate(root, 'unknown-key', manifest('unknown-key', { colour: 'blue' }), valid);

    const problems = problemsOf(root);
    const expected: Array<[string, RegExp]> = [
      ['bad-path', /files\/src\/%2e%2e: the path must not contain "\.\." segments/],
      ['missing-entry', /entry "main\.html" is not in files\//],
      ['missing-entry', /openFiles names "nope\.js"/],
      ['disagreeing', /dependencies: left-pad@1\.3\.0 is in package\.json but missing from template\.json/],
      ['disagreeing', /dependencies: react is 19\.3\.1 in template\.json but 19\.2\.0 in package\.json/],
      ['disagreeing', /devDependencies: vite@8\.3\.8 is in template\.json but missing from package\.json/],
      ['ranged', /dependencies\.react: must be an exact version/],
      ['ranged', /devDependencies\.vite: must be an exact version/],
      ['case-twins', /files\/src\/app\.js and files\/src\/App\.js differ only in letter case/],
      ['wrong-id', /id "other-id" must equal the folder name "wrong-id"/],
      ['Bad_Folder', /folder name must be a lowercase kebab-case id/],
      ['Bad_Folder', /template\.json id: must be lowercase kebab-case/],
      ['not-json', /template\.json is not valid JSON/],
      ['no-package-json', /dependencies are declared but files\/ has no package\.json/],
      ['bad-package-json', /package\.json is not valid JSON/],
      ['node-no-start', /a "node" template needs startScript/],
      ['unknown-key', /template\.json \(root\): Unrecognized key.*colour/],
    ];
    for (const [folder, pattern] of expected) {
      expect(
        problems.some((p) => p.startsWith(`${folder}: `) && pattern.test(p)),
        `${folder}: ${pattern}\n${problems.join('\n')}`,
      ).toBe(true);
    }
    expect(problems.length).toBe(expected.length);
  });

  it('refuses a non-canonical (non-NFC) file name', () => {
    const root = tempRoot();
    writeTemplate(root, 'nfd', manifest('nfd', { devDependencies: {} }), {
      'index.html': '',
      'src/main.js': '',
      'src/cafe\u0301.js': '',
    });
    expect(problemsOf(root)).toEqual([
      'nfd: files/src/cafe\u0301.js is not in canonical form (expected "src/caf\u00e9.js")',
    ]);
  });

  it('reports a missing folder and an empty folder', () => {
    expect(problemsOf(join(tempRoot(), 'absent'))).toEqual(['cannot read the template folder: it does not exist']);
    expect(problemsOf(tempRoot())).toEqual(['the template folder holds no templates']);
  });

  it('checks fileOptions paths, startScript and static templates', () => {
    const root = tempRoot();
    writeTemplate(
      root,
      'static-deps',
      manifest('static-deps', {
        runtime: 'static',
        transforms: ['ts'],
        startScript: 'dev',
        fileOptions: { 'ghost.txt': { hidden: true } },
      }),
      {
        'index.html': '',
        'src/main.js': '',
        'package.json': packageJson({ devDependencies: { vite: '8.3.8' }, scripts: { build: 'vite build' } }),
      },
    );
    expect(problemsOf(root)).toEqual([
      'static-deps: template.json fileOptions names "ghost.txt", which is not in files/',
      'static-deps: a "static" template cannot have dependencies',
      'static-deps: a "static" template cannot need transforms',
      'static-deps: startScript "dev" is not a script in package.json',
    ]);
  });
});
