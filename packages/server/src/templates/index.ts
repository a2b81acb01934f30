/**
 * templates — the template catalogue: template-data/<id>/template.json + files/, the zod schemas
 * that describe it, and the registry that loads and validates every template once at startup.
 * Also reads dependency maps out of package.json text for the sync code.
 * Imports only @tandem/protocol and errors; never realtime, http, persistence or redis.
 */
export {
  createTemplateRegistry,
  defaultTemplateDataDir,
  toTemplateSummary,
  type TemplateRegistry,
} from './template-registry.js';
export { diffDependencyMaps, packageJsonDependencies, type PackageJsonDependencies } from './package-json.js';
export {
  DependencyMapSchema,
  isExactVersion,
  isPackageName,
  ProjectTemplate,
  TEMPLATE_FRAMEWORKS,
  TEMPLATE_ID_PATTERN,
  TEMPLATE_RUNTIMES,
  TEMPLATE_TRANSFORMS,
  TemplateFile,
  TemplateFileOptions,
  TemplateManifest,
  type TemplateFramework,
  type TemplateRuntime,
  type TemplateTransform,
} from './template-schema.js';
