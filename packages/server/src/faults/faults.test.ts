import { describe, expect, it } from 'vitest';
import { Faults } from './faults.js';

describe('Faults', () => {
  it('holds the next edit until released, and a new plan lets a held edit go', async () => {
    const faults = new Faults(() => undefined);
    faults.set({ holdNextEdit: true });
    let passed = false;
    const edit = faults.beforeEditStore().then(() => (passed = true));
    await Promise.resolve();
    expect(faults.holdingEdit).toBe(true);
    expect(passed).toBe(false);
    // Only the next edit: the one after it goes straight through.
    await faults.beforeEditStore();
    faults.set({});
    await edit;
    expect(passed).toBe(true);
    expect(faults.holdingEdit).toBe(false);
    // In process, the release is returned.
    const release = faults.holdNextEdit();
    const second = faults.beforeEditStore();
    release();
    await second;
  });

  it('dies right after the n-th store of the kind asked for', () => {
    let died = 0;
    const faults = new Faults(() => died++);
    faults.set({ crashAfterStore: { kind: 'tree', nth: 2 } });
    faults.afterStore('edit');
    faults.afterStore('tree');
    expect(died).toBe(0);
    faults.afterStore('tree');
    expect(died).toBe(1);
    faults.afterStore('tree');
    expect(died).toBe(1);
  });
});
