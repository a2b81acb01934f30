import { z } from 'zod';

/**
 * zod schemas of the template catalogue: `template.json` as stored on disk (TemplateManifest)
 * and the in-memory ProjectTemplate (the manifest plus its files). Field-level rules live here;
 * rules that relate fields to files (entry exists, package.json agrees) live in the registry.
 */

/** Frameworks a template can be built on. */
export const TEMPLATE_FRAMEWORKS = [
  'none',
  'react',
  'preact',
  'vue',
  'svelte',
  'solid',
  'angular',
  'next',
  'node',
] as const;
export type TemplateFramework = (typeof TEMPLATE_FRAMEWORKS)[number];

/** In-browser transforms a `browser` template needs (the client loads only these compilers). */
export const TEMPLATE_TRANSFORMS = ['ts', 'jsx', 'vue-sfc', 'svelte', 'solid-jsx', 'angular-jit'] as const;
export type TemplateTransform = (typeof TEMPLATE_TRANSFORMS)[number];

/** How a template runs: files as-is, native ESM + import map in the browser, or a Node runtime. */
export const TEMPLATE_RUNTIMES = ['static', 'browser', 'node'] as const;
export type TemplateRuntime = (typeof TEMPLATE_RUNTIMES)[number];

/** Template ids: lowercase kebab-case, also the folder name under template-data/. */
export const TEMPLATE_ID_PATTERN = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;

// semver.org's grammar, anchored: exactly MAJOR.MINOR.PATCH with optional prerelease and build,
// so ranges (^1.2.3, ~1.2, 1.x, >=1), tags (latest) and URLs are refused.
const EXACT_VERSION_PATTERN =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)(?:\.(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*))*))?(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$/;

// npm's rules for new package names: lowercase, URL-safe, optionally scoped, at most 214 characters.
const PACKAGE_NAME_PATTERN = /^(?:@[a-z0-9~-][a-z0-9._~-]*\/)?[a-z0-9~-][a-z0-9._~-]*$/;

/** True when `version` is one exact semver version (no range, no tag). */
export function isExactVersion(version: string): boolean {
  return EXACT_VERSION_PATTERN.test(version);
}

/** True when `name` is a valid npm package name. */
export function isPackageName(name: string): boolean {
  return name.length <= 214 && PACKAGE_NAME_PATTERN.test(name);
}

/** Package name → exact version. */
export const DependencyMapSchema = z.record(
  z.string().refine(isPackageName, { message: 'not a valid npm package name' }),
  z.string().refine(isExactVersion, { message: 'must be an exact version such as 1.2.3 (no ^, ~, ranges or tags)' }),
);

const TemplatePath = z.string().min(1);

/** Per-file flags a manifest may set for files of its files/ folder. */
export const TemplateFileOptions = z.strictObject({
  /** Not shown in the file tree. */
  hidden: z.boolean().optional(),
  /** Not editable by collaborators. */
  readOnly: z.boolean().optional(),
});
export type TemplateFileOptions = z.infer<typeof TemplateFileOptions>;

const manifestShape = {
  /** Stable kebab-case key, equal to the folder name. */
  id: z.string().regex(TEMPLATE_ID_PATTERN, 'must be lowercase kebab-case such as "react-ts"'),
  /** Bumped on any change; shards store {templateId, templateRevision}. */
  revision: z.number().int().positive(),
  title: z.string().trim().min(1),
  /** What a user gets, in plain words (the template card shows it). */
  description: z.string().trim().min(1).optional(),
  /** Why the template is the way it is (pins, runtime quirks), for its maintainers; never shown to users. */
  notes: z.string().trim().min(1).optional(),
  framework: z.enum(TEMPLATE_FRAMEWORKS),
  language: z.enum(['js', 'ts']),
  runtime: z.enum(TEMPLATE_RUNTIMES),
  transforms: z.array(z.enum(TEMPLATE_TRANSFORMS)),
  /** What the runtime starts from ("index.html" for Vite-shaped templates). */
  entry: TemplatePath,
  /** The file focused when a shard opens. */
  activeFile: TemplatePath,
  /** Initial editor tabs. */
  openFiles: z.array(TemplatePath).optional(),
  /** Exact versions loaded at runtime (they feed the import map). */
  dependencies: DependencyMapSchema,
  /** Exact versions never loaded by the browser runtime (types, build tools). */
  devDependencies: DependencyMapSchema,
  /** For runtime "node": the package.json script that starts the app. */
  startScript: z.string().min(1).optional(),
  requires: z
    .strictObject({
      crossOriginIsolated: z.boolean().optional(),
      /** A semver range of Node versions, as in package.json#engines.node. */
      node: z.string().min(1).optional(),
    })
    .optional(),
};

/**
 * `template.json`: a ProjectTemplate without `files` (they live in the files/ folder next to
 * it), plus optional `fileOptions` (path → hidden/readOnly) for files of that folder.
 */
export const TemplateManifest = z.strictObject({
  ...manifestShape,
  fileOptions: z.record(TemplatePath, TemplateFileOptions).optional(),
});
export type TemplateManifest = z.infer<typeof TemplateManifest>;

/** One file of a template: text, or base64 for binary assets. */
export const TemplateFile = z.strictObject({
  content: z.string(),
  encoding: z.enum(['utf8', 'base64']).optional(),
  hidden: z.boolean().optional(),
  readOnly: z.boolean().optional(),
});
export type TemplateFile = z.infer<typeof TemplateFile>;

/** A template as held in memory and used to create shards. Paths are canonical relative POSIX paths. */
export const ProjectTemplate = z.strictObject({
  ...manifestShape,
  files: z.record(TemplatePath, TemplateFile),
});
export type ProjectTemplate = z.infer<typeof ProjectTemplate>;

/** Formats zod issues as `field.path: message` lines. */
export function describeIssues(error: z.ZodError): string[] {
  return error.issues.map((issue) => {
    const where = issue.path.length === 0 ? '(root)' : issue.path.map(String).join('.');
    return `${where}: ${issue.message}`;
  });
}
