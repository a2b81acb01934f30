// Types of first-run.mjs (plain JavaScript: it runs before anything is installed).
export declare const ROOT: string;
export declare const DEFAULT_CHROMIUM: string;
export type BuildStep = {
  name: string;
  inputs: string[];
  outputs: string[];
  stampFile: string;
  cwd?: string;
  commands: string[][];
};
export declare const BUILD_STEPS: BuildStep[];
export declare function missingPackages(root: string, options: { dev: boolean }): string[];
export declare function installCommand(root: string, options: { dev: boolean }): string[];
export declare function ensureDependencies(
  root: string,
  options: { dev: boolean; log?: (line: string) => void },
): boolean;
export declare function inputsDigest(root: string, paths: string[]): string;
export declare function isUpToDate(root: string, step: BuildStep): boolean;
export declare function recordBuilt(root: string, step: BuildStep): void;
export declare function build(
  root: string,
  options?: { force?: boolean; quiet?: boolean; log?: (line: string) => void },
): string[];
export declare function canInstallDebianPackages(): boolean;
export declare function browserPlan(options: {
  chromiumPath: string | undefined;
  defaultPath?: string;
  canInstall: () => boolean;
}): { action: 'ok' | 'install'; path: string } | { action: 'fail'; path: string; message: string };
