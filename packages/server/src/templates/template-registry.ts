import { readdirSync, readFileSync, statSync, type Dirent } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describePathProblem, ErrorCode, foldPath, normalizePath, type TemplateSummary } from '@tandem/protocol';
import { AppError } from '../errors/index.js';
import { diffDependencyMaps, packageJsonDependencies } from './package-json.js';
import {
  describeIssues,
  TEMPLATE_ID_PATTERN,
  TemplateManifest,
  type ProjectTemplate,
  type TemplateFile,
} from './template-schema.js';

/** The template catalogue, loaded and validated once at startup. */
export interface TemplateRegistry {
  /** Every template without file contents, sorted by id. */
  list(): TemplateSummary[];
  /** One template with its files (deeply frozen), or undefined for an unknown id. */
  get(id: string): ProjectTemplate | undefined;
}

const MANIFEST_FILE = 'template.json';
const FILES_FOLDER = 'files';

/**
 * The template-data folder that ships with the server. Resolved from this module's URL:
 * `src/templates/` (tsx, vitest) and `dist/templates/` (after tsc) both sit two levels below
 * packages/server/, where template-data/ lives.
 */
export function defaultTemplateDataDir(): string {
  return fileURLToPath(new URL('../../template-data/', import.meta.url));
}

/**
 * Reads every template folder of `dir` (synchronously: call it once at startup), validates each
 * one and returns the catalogue. Throws one AppError (VALIDATION_FAILED) that lists every problem
 * of every template, so a broken catalogue is fixed in one pass rather than one error per restart.
 *
 * Layout: `<dir>/<id>/template.json` (a TemplateManifest) and `<dir>/<id>/files/**` (the files).
 * Files that are not valid UTF-8 are carried as base64.
 */
export function createTemplateRegistry(dir: string = defaultTemplateDataDir()): TemplateRegistry {
  const problems: string[] = [];
  const templates = new Map<string, ProjectTemplate>();

  let folders: Dirent[] = [];
  try {
    folders = readdirSync(dir, { withFileTypes: true })
      .filter((entry) => entry.isDirectory())
      .sort((a, b) => compareStrings(a.name, b.name));
  } catch (error) {
    problems.push(`cannot read the template folder: ${describeFsError(error)}`);
  }
  if (problems.length === 0 && folders.length === 0) problems.push('the template folder holds no templates');

  for (const folder of folders) {
    const template = loadTemplate(join(dir, folder.name), folder.name, problems);
    if (template === undefined) continue;
    if (templates.has(template.id)) {
      problems.push(`${folder.name}: id "${template.id}" is used by another template`);
      continue;
    }
    templates.set(template.id, deepFreeze(template));
  }

  if (problems.length > 0) {
    throw new AppError(
      ErrorCode.VALIDATION_FAILED,
      `the template catalogue in ${dir} has ${problems.length} problem(s); fix them all:\n  - ${problems.join('\n  - ')}`,
      { details: { problems } },
    );
  }

  const summaries = [...templates.values()].map((template) => deepFreeze(toTemplateSummary(template)));
  return {
    list: () => [...summaries],
    get: (id) => templates.get(id),
  };
}

/** A template as listed by the API: its metadata and file paths, without contents. */
export function toTemplateSummary(template: ProjectTemplate): TemplateSummary {
  const summary: TemplateSummary = {
    id: template.id,
    revision: template.revision,
    title: template.title,
    framework: template.framework,
    language: template.language,
    runtime: template.runtime,
    transforms: [...template.transforms],
    entry: template.entry,
    activeFile: template.activeFile,
    dependencies: { ...template.dependencies },
    devDependencies: { ...template.devDependencies },
    files: Object.keys(template.files).sort(compareStrings),
  };
  if (template.description !== undefined) summary.description = template.description;
  if (template.openFiles !== undefined) summary.openFiles = [...template.openFiles];
  return summary;
}

function loadTemplate(folderPath: string, folder: string, problems: string[]): ProjectTemplate | undefined {
  const report = (message: string): void => {
    problems.push(`${folder}: ${message}`);
  };
  if (!TEMPLATE_ID_PATTERN.test(folder)) report('the folder name must be a lowercase kebab-case id such as "react-ts"');

  const manifest = readManifest(join(folderPath, MANIFEST_FILE), report);
  const files = readFiles(join(folderPath, FILES_FOLDER), report);
  if (manifest === undefined || files === undefined) return undefined;

  const { fileOptions, ...fields } = manifest;
  if (fields.id !== folder) report(`template.json id "${fields.id}" must equal the folder name "${folder}"`);

  for (const [path, options] of Object.entries(fileOptions ?? {})) {
    const file = files[path];
    if (file === undefined) {
      report(`template.json fileOptions names "${path}", which is not in files/`);
      continue;
    }
    if (options.hidden === true) file.hidden = true;
    if (options.readOnly === true) file.readOnly = true;
  }

  const template: ProjectTemplate = { ...fields, files };
  for (const problem of checkTemplate(template)) report(problem);
  return template;
}

function readManifest(path: string, report: (message: string) => void): TemplateManifest | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    report(`cannot read ${MANIFEST_FILE}: ${describeFsError(error)}`);
    return undefined;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    if (!(error instanceof SyntaxError)) throw error;
    report(`${MANIFEST_FILE} is not valid JSON: ${error.message}`);
    return undefined;
  }
  const parsed = TemplateManifest.safeParse(json);
  if (!parsed.success) {
    for (const issue of describeIssues(parsed.error)) report(`${MANIFEST_FILE} ${issue}`);
    return undefined;
  }
  return parsed.data;
}

/** Reads files/ recursively into canonical path → file; reports bad paths and case twins. */
function readFiles(root: string, report: (message: string) => void): Record<string, TemplateFile> | undefined {
  try {
    if (!statSync(root).isDirectory()) {
      report(`${FILES_FOLDER}/ must be a folder`);
      return undefined;
    }
  } catch (error) {
    report(`cannot read ${FILES_FOLDER}/: ${describeFsError(error)}`);
    return undefined;
  }

  // A Map, not an object: a file named `__proto__` or `constructor` would not be a plain key.
  const files = new Map<string, TemplateFile>();
  const byFoldedPath = new Map<string, string>();
  const visit = (relativeDir: string): void => {
    const entries = readdirSync(join(root, relativeDir), { withFileTypes: true }).sort((a, b) =>
      compareStrings(a.name, b.name),
    );
    for (const entry of entries) {
      const relative = relativeDir === '' ? entry.name : `${relativeDir}/${entry.name}`;
      if (entry.isDirectory()) {
        visit(relative);
        continue;
      }
      if (!entry.isFile()) {
        report(`files/${relative} is not a regular file (symlinks and special files are not allowed)`);
        continue;
      }
      const normalized = normalizePath(relative);
      if (!normalized.ok) {
        report(`files/${relative}: ${describePathProblem(normalized.problem)}`);
        continue;
      }
      if (normalized.path !== relative) {
        report(`files/${relative} is not in canonical form (expected "${normalized.path}")`);
        continue;
      }
      // Case-insensitive file systems (macOS, Windows) and zip tools would merge these two files.
      const folded = foldPath(relative);
      const twin = byFoldedPath.get(folded);
      if (twin !== undefined) {
        report(`files/${relative} and files/${twin} differ only in letter case`);
        continue;
      }
      byFoldedPath.set(folded, relative);
      files.set(relative, decodeFile(readFileSync(join(root, relative))));
    }
  };
  try {
    visit('');
  } catch (error) {
    report(`cannot read ${FILES_FOLDER}/: ${describeFsError(error)}`);
    return undefined;
  }
  // Object.fromEntries defines own properties, so every name stays a plain key.
  return Object.fromEntries(files);
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function decodeFile(bytes: Buffer): TemplateFile {
  if (!bytes.includes(0)) {
    try {
      return { content: utf8.decode(bytes) };
    } catch (error) {
      // A fatal decoder throws TypeError on invalid UTF-8: the file is binary, carried as base64.
      if (!(error instanceof TypeError)) throw error;
    }
  }
  return { content: bytes.toString('base64'), encoding: 'base64' };
}

/** Rules that relate a template's fields to its files. Returns every problem found. */
function checkTemplate(template: ProjectTemplate): string[] {
  const problems: string[] = [];
  const has = (path: string): boolean => Object.hasOwn(template.files, path);
  const paths = Object.keys(template.files);
  if (paths.length === 0) problems.push('files/ is empty');

  if (!has(template.entry)) problems.push(`entry "${template.entry}" is not in files/`);
  if (!has(template.activeFile)) problems.push(`activeFile "${template.activeFile}" is not in files/`);
  const openFiles = template.openFiles ?? [];
  for (const path of openFiles) if (!has(path)) problems.push(`openFiles names "${path}", which is not in files/`);
  if (new Set(openFiles).size !== openFiles.length) problems.push('openFiles lists a file twice');
  if (new Set(template.transforms).size !== template.transforms.length) problems.push('transforms lists one twice');

  const hasDependencies =
    Object.keys(template.dependencies).length > 0 || Object.keys(template.devDependencies).length > 0;
  if (template.runtime === 'static') {
    if (hasDependencies) problems.push('a "static" template cannot have dependencies');
    if (template.transforms.length > 0) problems.push('a "static" template cannot need transforms');
  }
  if (template.runtime === 'node' && template.startScript === undefined) {
    problems.push('a "node" template needs startScript (the package.json script that starts it)');
  }

  const packageJson = template.files['package.json'];
  if (packageJson === undefined) {
    if (hasDependencies) problems.push('dependencies are declared but files/ has no package.json');
    if (template.startScript !== undefined) problems.push('startScript is set but files/ has no package.json');
    return problems;
  }
  const text = packageJson.encoding === 'base64' ? '' : packageJson.content;
  const declared = packageJsonDependencies(text);
  if (declared === null) {
    problems.push('package.json is not valid JSON, or its dependencies/devDependencies are not objects of strings');
    return problems;
  }
  const labels = { expected: 'template.json', actual: 'package.json' };
  for (const line of diffDependencyMaps(template.dependencies, declared.dependencies, labels)) {
    problems.push(`dependencies: ${line}`);
  }
  for (const line of diffDependencyMaps(template.devDependencies, declared.devDependencies, labels)) {
    problems.push(`devDependencies: ${line}`);
  }
  if (template.startScript !== undefined && !packageJsonScripts(text).includes(template.startScript)) {
    problems.push(`startScript "${template.startScript}" is not a script in package.json`);
  }
  return problems;
}

function packageJsonScripts(text: string): string[] {
  const pkg: unknown = JSON.parse(text);
  if (typeof pkg !== 'object' || pkg === null || !('scripts' in pkg)) return [];
  const scripts: unknown = pkg.scripts;
  return typeof scripts === 'object' && scripts !== null ? Object.keys(scripts) : [];
}

function describeFsError(error: unknown): string {
  if (error instanceof Error && 'code' in error && typeof error.code === 'string') {
    return error.code === 'ENOENT' ? 'it does not exist' : `${error.code} (${error.message})`;
  }
  return String(error);
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
