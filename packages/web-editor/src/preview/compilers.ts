/**
 * The in-browser compilers of the preview, each loaded on first use (they are large: the Vue SFC
 * compiler, the Svelte compiler and Babel for Solid are separate chunks of the worker).
 * Versions are those of @tandem/web-editor's dependencies: @vue/compiler-sfc and svelte must match
 * the runtime versions the templates pin (3.5.45 and 5.57.3) for the output to run.
 */

/** Output of compiling one source file to a browser ES module. */
export type CompiledModule = {
  /** JavaScript (ES module syntax, imports not yet rewritten). */
  code: string;
  /** CSS the module brings along (Vue `<style>` blocks), injected when the module runs. */
  css?: string;
};

/** Which JSX flavour `.jsx`/`.tsx` files compile to. */
export type JsxMode = { kind: 'automatic'; importSource: string } | { kind: 'solid' };

/** TypeScript, JSX and TSX to plain JS with Sucrase (types stripped, JSX → jsx-runtime calls). */
export async function compileScript(
  path: string,
  source: string,
  typescript: boolean,
  jsx: JsxMode | null,
): Promise<string> {
  if (jsx?.kind === 'solid') return compileSolid(path, source, typescript);
  const { transform } = await import('sucrase');
  const transforms: Array<'typescript' | 'jsx'> = [];
  if (typescript) transforms.push('typescript');
  if (jsx !== null) transforms.push('jsx');
  if (transforms.length === 0) return source;
  return transform(source, {
    transforms,
    filePath: path,
    disableESTransforms: true,
    ...(jsx === null ? {} : { jsxRuntime: 'automatic' as const, jsxImportSource: jsx.importSource, production: true }),
  }).code;
}

/** Solid JSX (dom-expressions) with babel-preset-solid on @babel/standalone. */
async function compileSolid(path: string, source: string, typescript: boolean): Promise<string> {
  const [babelModule, solidModule] = await Promise.all([import('@babel/standalone'), import('babel-preset-solid')]);
  const babel = typeof babelModule.transform === 'function' ? babelModule : babelModule.default;
  const solid = solidModule.default;
  const presets: unknown[] = [[solid, { generate: 'dom', hydratable: false }]];
  if (typescript) presets.push(['typescript', { onlyRemoveTypeImports: true, isTSX: true, allExtensions: true }]);
  const result = babel.transform(source, {
    filename: path,
    presets,
    sourceType: 'module',
    babelrc: false,
    configFile: false,
  });
  return result.code ?? '';
}

/** A Vue single-file component to an ES module exporting the component, its CSS alongside. */
export async function compileVue(path: string, source: string): Promise<CompiledModule> {
  const sfc = await import('@vue/compiler-sfc');
  const { descriptor, errors } = sfc.parse(source, { filename: path, sourceMap: false });
  if (errors.length > 0) throw new Error(errors.map((e) => (e instanceof Error ? e.message : String(e))).join('\n'));
  const id = shortHash(path);
  const scoped = descriptor.styles.some((style) => style.scoped);
  const lang = descriptor.scriptSetup?.lang ?? descriptor.script?.lang;
  let code = '';
  let bindings: Record<string, unknown> | undefined;
  if (descriptor.script !== null || descriptor.scriptSetup !== null) {
    const script = sfc.compileScript(descriptor, {
      id,
      inlineTemplate: true,
      genDefaultAs: '__sfc__',
      sourceMap: false,
    });
    bindings = script.bindings;
    code += script.content;
  } else {
    code += 'const __sfc__ = {};';
  }
  // With <script setup> the template is inlined into setup(); otherwise it compiles to render().
  if (descriptor.template !== null && descriptor.scriptSetup === null) {
    const template = sfc.compileTemplate({
      source: descriptor.template.content,
      filename: path,
      id,
      scoped,
      slotted: descriptor.slotted,
      compilerOptions: { ...(bindings === undefined ? {} : { bindingMetadata: bindings as never }) },
    });
    if (template.errors.length > 0) {
      throw new Error(template.errors.map((e) => (typeof e === 'string' ? e : e.message)).join('\n'));
    }
    code += `\n${template.code.replace(/\nexport (function|const) render/, '\n$1 render')}\n__sfc__.render = render;`;
  }
  if (scoped) code += `\n__sfc__.__scopeId = ${JSON.stringify(`data-v-${id}`)};`;
  code += `\n__sfc__.__file = ${JSON.stringify(path)};\nexport default __sfc__;\n`;
  if (lang === 'ts' || lang === 'tsx')
    code = await compileScript(path, code, true, lang === 'tsx' ? { kind: 'automatic', importSource: 'vue' } : null);
  let css = '';
  for (const style of descriptor.styles) {
    if (style.lang !== undefined && style.lang !== 'css') {
      throw new Error(`<style lang="${style.lang}"> is not supported by the preview; use plain CSS`);
    }
    const result = sfc.compileStyle({
      source: style.content,
      filename: path,
      id: `data-v-${id}`,
      scoped: style.scoped === true,
    });
    if (result.errors.length > 0) throw new Error(result.errors.map((e) => e.message).join('\n'));
    css += `${result.code}\n`;
  }
  return css === '' ? { code } : { code, css };
}

/** A Svelte 5 component (or a `.svelte.js`/`.svelte.ts` runes module) to a client ES module. */
export async function compileSvelte(path: string, source: string): Promise<string> {
  const svelte = await import('svelte/compiler');
  if (path.endsWith('.svelte')) {
    return svelte.compile(source, { filename: path, generate: 'client', css: 'injected', dev: false }).js.code;
  }
  const js = path.endsWith('.ts') ? await compileScript(path, source, true, null) : source;
  return svelte.compileModule(js, { filename: path, generate: 'client', dev: false }).js.code;
}

/** A short stable id for scoped CSS (what Vite derives from the file path). */
function shortHash(text: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0).toString(16).padStart(8, '0');
}
