import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * The suite's longest files, longest first (seconds on a 2-core CI machine, 2026-12-01). A clean
 * clone has no timing cache, so vitest orders files by size, and bench-quick (the longest by far)
 * started last and ran alone for its last two minutes while the other worker had nothing left.
 */
const LONGEST = [
  'packages/bench/test/bench-quick.test.ts', // 163 s
  'packages/server/test/browser/preview.test.ts', // 124 s
  'packages/server/test/integration/sync-faults.test.ts', // 64 s
  'packages/server/test/integration/cli.test.ts', // 57 s
  'packages/server/test/browser/projects.test.ts', // 51 s
];

/** vitest's order (projects by `groupOrder`, then cached failures and durations, then size), with LONGEST first within a group. */
export default class LongFilesFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const rank = (spec: TestSpecification): number => {
      const at = LONGEST.findIndex((path) => spec.moduleId.endsWith(path));
      return at === -1 ? LONGEST.length : at;
    };
    const group = (spec: TestSpecification): number => spec.project.config.sequence.groupOrder;
    // Array.prototype.sort is stable: files outside LONGEST keep vitest's order.
    return [...sorted].sort((a, b) => group(a) - group(b) || rank(a) - rank(b));
  }
}
