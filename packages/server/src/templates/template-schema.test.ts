import { describe, expect, it } from 'vitest';
import { isExactVersion, isPackageName, ProjectTemplate, TemplateManifest } from './index.js';

const manifest = {
  id: 'react-ts',
  revision: 1,
  title: 'React + TypeScript',
  framework: 'react',
  language: 'ts',
  runtime: 'browser',
  transforms: ['ts', 'jsx'],
  entry: 'index.html',
  activeFile: 'src/App.tsx',
  dependencies: { react: '19.3.1' },
  devDependencies: { '@types/react': '19.3.0' },
};

describe('exact versions and package names', () => {
  it('accepts exact semver only', () => {
    for (const v of ['0.0.0', '1.2.3', '19.3.1', '1.0.0-rc.1', '16.0.0-canary.12', '1.2.3+build.5', '2.0.0-0']) {
      expect(isExactVersion(v), v).toBe(true);
    }
    for (const v of [
      '^1.2.3',
      '~1.2.3',
      '1.2',
      '1.x',
      '>=1.0.0',
      'latest',
      '*',
      '',
      '01.2.3',
      '1.2.3 ',
      'v1.2.3',
      '1.2.3 || 2.0.0',
      'npm:react@19.3.1',
      'file:../x',
    ]) {
      expect(isExactVersion(v), v).toBe(false);
    }
  });

  it('accepts npm package names only', () => {
    for (const n of ['react', 'react-dom', '@vitejs/plugin-react', 'solid-js', 'zone.js', '@types/react']) {
      expect(isPackageName(n), n).toBe(true);
    }
    for (const n of ['', 'React', '@scope', '@/x', '../x', 'a b', 'x?external=y', 'a/b']) {
      expect(isPackageName(n), n).toBe(false);
    }
  });
});

describe('TemplateManifest', () => {
  it('accepts a complete manifest with optional fields', () => {
    const parsed = TemplateManifest.parse({
      ...manifest,
      description: 'React with TSX',
      openFiles: ['src/App.tsx'],
      startScript: 'dev',
      requires: { crossOriginIsolated: true, node: '>=20.19.0' },
      fileOptions: { 'tsconfig.json': { readOnly: true } },
    });
    expect(parsed.requires?.node).toBe('>=20.19.0');
  });

  it('rejects bad fields and reports each one', () => {
    const result = TemplateManifest.safeParse({
      ...manifest,
      id: 'React TS',
      revision: 0,
      framework: 'ember',
      runtime: 'deno',
      transforms: ['coffee'],
      dependencies: { react: '^19.0.0', 'Bad Name': '1.0.0' },
      extra: true,
    });
    expect(result.success).toBe(false);
    const paths = result.error?.issues.map((issue) => issue.path.join('.')).sort();
    expect(paths).toEqual(
      [
        '',
        'dependencies.Bad Name',
        'dependencies.react',
        'framework',
        'id',
        'revision',
        'runtime',
        'transforms.0',
      ].sort(),
    );
  });
});

describe('ProjectTemplate', () => {
  it('holds files with optional encoding and flags, and refuses unknown file fields', () => {
    const files = {
      'index.html': { content: '<div id="root"></div>' },
      'public/logo.png': { content: 'iVBORw0KGgo=', encoding: 'base64', hidden: true, readOnly: true },
    };
    expect(ProjectTemplate.parse({ ...manifest, files }).files['public/logo.png']?.encoding).toBe('base64');
    expect(ProjectTemplate.safeParse({ ...manifest, files: { 'a.txt': { content: 'x', mode: 0o755 } } }).success).toBe(
      false,
    );
    expect(
      ProjectTemplate.safeParse({ ...manifest, files: { 'a.txt': { content: 'x', encoding: 'latin1' } } }).success,
    ).toBe(false);
    expect(ProjectTemplate.safeParse(manifest).success).toBe(false);
  });
});
