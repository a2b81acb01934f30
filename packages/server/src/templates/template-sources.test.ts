import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { posix } from 'node:path';
import { compileScript, compileStyle, compileTemplate, parse as parseSfc } from '@vue/compiler-sfc';
import { init as initLexer, parse as lexModule } from 'es-module-lexer';
import { transform, type Loader, type TransformOptions } from 'esbuild';
import { compile as compileSvelte, compileModule as compileSvelteModule } from 'svelte/compiler';
import { beforeAll, describe, expect, it } from 'vitest';
import { createTemplateRegistry, type ProjectTemplate, type TemplateTransform } from './index.js';

/**
 * Every template's sources compile with the compilers the browser preview uses (esbuild for
 * TS/JSX, @vue/compiler-sfc, svelte/compiler, babel-preset-solid), and every bare import in the
 * compiled output is covered by the template's `dependencies` (what the import map is built from).
 */

// @babel/core ships no types and @types/babel__core is not installed: describe the one call we make.
type BabelTransformSync = (code: string, options: Record<string, unknown>) => { code?: string | null } | null;
const require = createRequire(import.meta.url);
const babel = require('@babel/core') as { transformSync: BabelTransformSync };
const solidPreset = require.resolve('babel-preset-solid');

const registry = createTemplateRegistry();
const templates = registry.list().flatMap((summary) => registry.get(summary.id) ?? []);
const browserTemplates = templates.filter((t) => t.runtime !== 'node');
const nodeTemplates = templates.filter((t) => t.runtime === 'node');

/** Build-time config files run in Node with devDependencies; they are not browser sources. */
const CONFIG_FILE = /^(?:vite|svelte|next)\.config\.[cm]?[jt]s$/;
const SOURCE_FILE = /\.(?:[cm]?[jt]sx?|vue|svelte)$/;

type Compiled = { outputs: string[]; transforms: Set<TemplateTransform> };

beforeAll(async () => {
  await initLexer;
});

function sourcesOf(template: ProjectTemplate): string[] {
  return Object.keys(template.files)
    .filter((path) => SOURCE_FILE.test(path) && !CONFIG_FILE.test(path) && !path.endsWith('.d.ts'))
    .sort();
}

function contentOf(template: ProjectTemplate, path: string): string {
  const file = template.files[path];
  if (file === undefined || file.encoding === 'base64') throw new Error(`${path} is not a text file`);
  return file.content;
}

async function esbuild(code: string, path: string, options: TransformOptions): Promise<string> {
  const result = await transform(code, { sourcefile: path, format: 'esm', target: 'es2022', ...options });
  return result.code;
}

/** Compiles one source file the way the browser preview would, returning the JS it would run. */
async function compileFile(template: ProjectTemplate, path: string): Promise<Compiled> {
  const source = contentOf(template, path);
  const transforms = new Set<TemplateTransform>();
  const ext = posix.extname(path);
  const isTs = ext === '.ts' || ext === '.tsx' || ext === '.mts';
  if (isTs) transforms.add('ts');
  // Angular's decorators run in the browser, for its JIT compiler.
  if (isTs && template.framework === 'angular') transforms.add('angular-jit');
  const tsconfigRaw = {
    compilerOptions:
      template.framework === 'angular' ? { experimentalDecorators: true } : { verbatimModuleSyntax: true },
  };

  if (path.endsWith('.svelte.js') || path.endsWith('.svelte.ts')) {
    transforms.add('svelte');
    const js = isTs ? await esbuild(source, path, { loader: 'ts', tsconfigRaw }) : source;
    return { outputs: [compileSvelteModule(js, { filename: path, generate: 'client' }).js.code], transforms };
  }

  switch (ext) {
    case '.svelte': {
      transforms.add('svelte');
      if (/<script[^>]*\blang=["']ts["']/.test(source)) transforms.add('ts');
      const result = compileSvelte(source, { filename: path, generate: 'client' });
      const warnings = result.warnings.map((w) => `${w.code}: ${w.message}`);
      if (warnings.length > 0) throw new Error(`svelte warnings in ${path}:\n${warnings.join('\n')}`);
      return { outputs: [result.js.code], transforms };
    }
    case '.vue':
      return compileVue(path, source, transforms);
    case '.jsx':
    case '.tsx':
    case '.js':
    case '.mjs':
    case '.ts':
    case '.mts': {
      // Next.js pages are .js files containing JSX.
      const hasJsx = ext === '.jsx' || ext === '.tsx' || (template.framework === 'next' && ext === '.js');
      const loader: Loader = ext === '.tsx' ? 'tsx' : isTs ? 'ts' : hasJsx ? 'jsx' : 'js';
      if (!hasJsx) return { outputs: [await esbuild(source, path, { loader, tsconfigRaw })], transforms };
      if (template.framework === 'solid') {
        transforms.add('solid-jsx');
        // Types are stripped first (no @babel/preset-typescript here), JSX kept for Solid's compiler.
        const stripped = await esbuild(source, path, { loader, jsx: 'preserve', tsconfigRaw });
        const result = babel.transformSync(stripped, {
          filename: path,
          babelrc: false,
          configFile: false,
          presets: [[solidPreset, { generate: 'dom', hydratable: false }]],
        });
        if (typeof result?.code !== 'string') throw new Error(`babel-preset-solid produced no code for ${path}`);
        return { outputs: [result.code], transforms };
      }
      transforms.add('jsx');
      const jsxImportSource = template.framework === 'preact' ? 'preact' : 'react';
      const js = await esbuild(source, path, { loader, jsx: 'automatic', jsxImportSource, tsconfigRaw });
      return { outputs: [js], transforms };
    }
    default:
      throw new Error(`no browser compiler for ${path}`);
  }
}

async function compileVue(path: string, source: string, transforms: Set<TemplateTransform>): Promise<Compiled> {
  transforms.add('vue-sfc');
  const { descriptor, errors } = parseSfc(source, { filename: path });
  if (errors.length > 0) throw new Error(`vue parse errors in ${path}: ${errors.map(String).join('; ')}`);
  const id = createHash('sha256').update(path).digest('hex').slice(0, 8);
  const scoped = descriptor.styles.some((style) => style.scoped);
  const outputs: string[] = [];
  const script =
    descriptor.script !== null || descriptor.scriptSetup !== null ? compileScript(descriptor, { id }) : null;
  const isTs = script?.lang === 'ts';
  if (isTs) transforms.add('ts');
  const toJs = (code: string): Promise<string> =>
    esbuild(code, path, {
      loader: isTs ? 'ts' : 'js',
      tsconfigRaw: { compilerOptions: { verbatimModuleSyntax: true } },
    });
  if (script !== null) outputs.push(await toJs(script.content));
  if (descriptor.template !== null) {
    const template = compileTemplate({
      source: descriptor.template.content,
      filename: path,
      id,
      scoped,
      compilerOptions: {
        ...(script?.bindings === undefined ? {} : { bindingMetadata: script.bindings }),
        ...(isTs ? { expressionPlugins: ['typescript' as const] } : {}),
      },
    });
    if (template.errors.length > 0) {
      throw new Error(`vue template errors in ${path}: ${template.errors.map(String).join('; ')}`);
    }
    outputs.push(await toJs(template.code));
  }
  for (const style of descriptor.styles) {
    const css = compileStyle({
      source: style.content,
      filename: path,
      id: `data-v-${id}`,
      scoped: style.scoped === true,
    });
    if (css.errors.length > 0) throw new Error(`vue style errors in ${path}: ${css.errors.map(String).join('; ')}`);
  }
  return { outputs, transforms };
}

type ImportRef = { from: string; specifier: string };

function importsOf(path: string, outputs: string[]): ImportRef[] {
  return outputs.flatMap((code) => {
    const [imports] = lexModule(code);
    return imports.flatMap((entry) =>
      typeof entry.specifier === 'string' ? [{ from: path, specifier: entry.specifier }] : [],
    );
  });
}

function isBare(specifier: string): boolean {
  return !/^(?:\.{1,2}\/|\/|[A-Za-z][A-Za-z0-9+.-]*:)/.test(specifier);
}

/** `react-dom/client` → `react-dom`; `@vue/shared/x` → `@vue/shared`. */
function packageOf(specifier: string): string {
  const parts = specifier.split('/');
  return (specifier.startsWith('@') ? parts.slice(0, 2) : parts.slice(0, 1)).join('/');
}

async function compileAll(template: ProjectTemplate): Promise<{
  problems: string[];
  imports: ImportRef[];
  transforms: Set<TemplateTransform>;
}> {
  const problems: string[] = [];
  const imports: ImportRef[] = [];
  const transforms = new Set<TemplateTransform>();
  for (const path of sourcesOf(template)) {
    try {
      const compiled = await compileFile(template, path);
      for (const t of compiled.transforms) transforms.add(t);
      imports.push(...importsOf(path, compiled.outputs));
    } catch (error) {
      problems.push(`${path}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  return { problems, imports, transforms };
}

function uncoveredBareImports(template: ProjectTemplate, imports: ImportRef[]): string[] {
  return imports
    .filter(({ specifier }) => isBare(specifier) && !Object.hasOwn(template.dependencies, packageOf(specifier)))
    .map(({ from, specifier }) => `${from} imports "${specifier}", which is not in dependencies`);
}

/**
 * Browsers do not guess extensions or index files: relative imports must name an existing file.
 * Angular CLI projects import without extensions (TypeScript's resolution), which the preview
 * resolves as the CLI does: `.ts` is tried.
 */
function unresolvedRelativeImports(template: ProjectTemplate, imports: ImportRef[]): string[] {
  const extensions = template.framework === 'angular' ? ['', '.ts'] : [''];
  return imports
    .filter(({ specifier }) => specifier.startsWith('./') || specifier.startsWith('../') || specifier.startsWith('/'))
    .filter(({ from, specifier }) => {
      const target = specifier.startsWith('/')
        ? specifier.slice(1)
        : posix.normalize(posix.join(posix.dirname(from), specifier));
      return !extensions.some((ext) => Object.hasOwn(template.files, target + ext));
    })
    .map(({ from, specifier }) => `${from} imports "${specifier}", which is not a file of the template`);
}

/** Module scripts and stylesheets named by the HTML entry must exist (root-relative or relative). */
function htmlReferenceProblems(template: ProjectTemplate): string[] {
  const problems: string[] = [];
  for (const path of Object.keys(template.files).filter((p) => p.endsWith('.html'))) {
    const html = contentOf(template, path);
    const refs = [
      ...[...html.matchAll(/<script\b[^>]*\bsrc=["']([^"']+)["'][^>]*>/g)].map((m) => m[1]),
      ...[...html.matchAll(/<link\b[^>]*\brel=["']stylesheet["'][^>]*\bhref=["']([^"']+)["'][^>]*>/g)].map((m) => m[1]),
    ];
    for (const ref of refs) {
      if (ref === undefined || /^[a-z]+:/i.test(ref)) continue;
      const target = ref.startsWith('/') ? ref.slice(1) : posix.normalize(posix.join(posix.dirname(path), ref));
      if (!Object.hasOwn(template.files, target)) problems.push(`${path} references "${ref}", which is not a file`);
    }
  }
  return problems;
}

describe('browser and static templates', () => {
  it('are the 13 templates that run without Node', () => {
    expect(browserTemplates.map((t) => t.id)).toEqual(
      [
        'angular',
        'nextjs',
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
      ].sort(),
    );
  });

  describe.each(browserTemplates.map((t) => [t.id, t] as const))('%s', (_id, template) => {
    it('compiles every source with the browser compilers', async () => {
      const { problems } = await compileAll(template);
      expect(problems).toEqual([]);
    });

    it('covers every bare import with dependencies and resolves every relative import', async () => {
      const { imports } = await compileAll(template);
      if (template.runtime === 'browser') expect(imports.length).toBeGreaterThan(0);
      expect([...uncoveredBareImports(template, imports), ...unresolvedRelativeImports(template, imports)]).toEqual([]);
    });

    it('declares exactly the transforms its sources need', async () => {
      const { transforms } = await compileAll(template);
      expect([...template.transforms].sort()).toEqual([...transforms].sort());
    });

    it('names only existing files from its HTML', () => {
      expect(htmlReferenceProblems(template)).toEqual([]);
    });
  });
});

describe('compiled output', () => {
  // Proves the compilers really ran: each framework's compiled code imports its runtime helpers,
  // which the import map must then serve (they are covered by the `name/` prefix entries).
  it.each([
    ['react', 'react/jsx-runtime'],
    ['react-ts', 'react/jsx-runtime'],
    ['preact', 'preact/jsx-runtime'],
    ['solid', 'solid-js/web'],
    ['svelte', 'svelte/internal/client'],
    ['svelte-ts', 'svelte/internal/client'],
    ['vue', 'vue'],
    ['vue-ts', 'vue'],
    ['angular', '@angular/core'],
    ['nextjs', 'react/jsx-runtime'],
  ])('of %s imports %s', async (id, runtimeImport) => {
    const template = registry.get(id);
    if (template === undefined) throw new Error(`no template ${id}`);
    const { imports } = await compileAll(template);
    expect(imports.map((ref) => ref.specifier)).toContain(runtimeImport);
  });
});

describe('node-runtime templates', () => {
  describe.each(nodeTemplates.map((t) => [t.id, t] as const))('%s', (_id, template) => {
    it('parses every source and covers every bare import with dependencies', async () => {
      const { problems, imports } = await compileAll(template);
      expect([...problems, ...uncoveredBareImports(template, imports)]).toEqual([]);
    });
  });
});
