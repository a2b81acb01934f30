import { signal } from '@preact/signals';
import { readDependencies, type PackageDependencies, type ShardSession } from '@tandem/client-sdk';
import type { FileId } from '@tandem/protocol';
import type * as Y from 'yjs';

/**
 * The live dependency maps of the shard's package.json, as signals: follows the file's shared
 * text (anyone's edit, typed or from a Dependencies panel, shows at once) and the tree (the file
 * created, renamed away or deleted).
 */
export class DependencyList {
  /** The maps; null when package.json does not parse (someone is typing in it). */
  readonly dependencies = signal<PackageDependencies | null>(null);
  /** Whether the shard has a package.json. */
  readonly exists = signal(false);
  private bound: { id: FileId; text: Y.Text; stop: () => void } | null = null;
  private readonly detach: Array<() => void> = [];
  private destroyed = false;

  constructor(private readonly session: ShardSession) {}

  start(): void {
    this.detach.push(this.session.on('tree', () => void this.follow()));
    void this.follow();
  }

  destroy(): void {
    this.destroyed = true;
    for (const off of this.detach.splice(0)) off();
    this.bound?.stop();
    this.bound = null;
  }

  private async follow(): Promise<void> {
    const id = this.session.fileId('package.json');
    this.exists.value = id !== undefined;
    if (id === this.bound?.id) return;
    this.bound?.stop();
    this.bound = null;
    if (id === undefined) {
      this.dependencies.value = { dependencies: {}, devDependencies: {} };
      return;
    }
    let text: Y.Text;
    try {
      text = await this.session.openFile(id);
    } catch {
      // Deleted meanwhile: the next tree event follows it.
      return;
    }
    if (this.destroyed || this.session.fileId('package.json') !== id || this.bound !== null) return;
    const read = () => (this.dependencies.value = readDependencies(text.toString()));
    text.observe(read);
    this.bound = { id, text, stop: () => text.unobserve(read) };
    read();
  }
}
