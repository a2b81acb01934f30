import * as Y from 'yjs';
import type { ShardId } from '@tandem/protocol';
import { TandemClient, type ShardSession, type TandemSocket } from '@tandem/client-sdk';

/** A load token: `{c<client>.<sequence>}`, unique in the whole run. */
export const TOKEN_PATTERN = /\{c\d+\.\d+\}/g;

/** Every complete token in a text. */
export function tokensIn(text: string): Set<string> {
  return new Set(text.match(TOKEN_PATTERN) ?? []);
}

/** What the suite remembers of each token it typed. */
export type TypedToken = {
  readonly token: string;
  readonly shardId: ShardId;
  readonly clientIndex: number;
  readonly typedAt: number;
  /** Yjs id range of the insert: another doc holds it iff its state for `yjsClient` ≥ `clockEnd`. */
  readonly yjsClient: number;
  readonly clockEnd: number;
  /** When the server acknowledged a `file:edit` carrying it (ms since the epoch), if it did. */
  ackedAt: number | undefined;
};

/** One simulated collaborator: its own socket (through one balancer), one session, one open file. */
export class LoadClient {
  private constructor(
    readonly index: number,
    readonly shardId: ShardId,
    readonly client: TandemClient,
    public session: ShardSession,
    public text: Y.Text,
  ) {}

  static async connect(options: {
    index: number;
    shardId: ShardId;
    url: string;
    token: string;
    path: string;
    onAck: (update: Uint8Array) => void;
  }): Promise<LoadClient> {
    const client = new TandemClient({ url: options.url, token: options.token });
    hookEditAcks(client.socket, options.onAck);
    try {
      await client.connected();
      const session = await client.join(options.shardId);
      const text = await session.openFile(options.path);
      return new LoadClient(options.index, options.shardId, client, session, text);
    } catch (error) {
      await client.close();
      throw error;
    }
  }

  get doc(): Y.Doc {
    const doc = this.text.doc;
    if (doc === null) throw new Error('the load file is not attached to a document');
    return doc;
  }

  /** Connected, joined and not re-joining. */
  get isLive(): boolean {
    const status = this.session.status;
    return this.client.socket.connected && (status === 'live' || status === 'saved' || status === 'syncing');
  }

  /** Whether this client's document holds the token's insert. */
  has(token: TypedToken): boolean {
    return Y.getState(this.doc.store, token.yjsClient) >= token.clockEnd;
  }

  /** Inserts a token at a random boundary between earlier tokens (never inside one). */
  type(token: string): { yjsClient: number; clockEnd: number } {
    this.text.insert(randomItemBoundary(this.text), token);
    return { yjsClient: this.doc.clientID, clockEnd: Y.getState(this.doc.store, this.doc.clientID) };
  }

  close(): Promise<void> {
    return this.client.close();
  }
}

/**
 * Records acknowledged edits by wrapping the socket's `emitWithAck`, which the SDK's request()
 * uses for every event: when a `file:edit` ack comes back `ok`, the update it carried is in
 * Redis. This counts edits however they were sent: typed live, or re-sent by the sync
 * handshake after a reconnect or a server-side loss.
 */
function hookEditAcks(socket: TandemSocket, onAck: (update: Uint8Array) => void): void {
  const target = socket as unknown as { emitWithAck(event: string, ...args: unknown[]): Promise<unknown> };
  const original = target.emitWithAck.bind(socket);
  target.emitWithAck = async (event: string, ...args: unknown[]) => {
    const result = await original(event, ...args);
    if (event === 'file:edit' && isOkAck(result)) {
      const update = (args[0] as { update?: unknown } | undefined)?.update;
      if (update instanceof Uint8Array) onAck(update);
    }
    return result;
  };
}

function isOkAck(value: unknown): boolean {
  return typeof value === 'object' && value !== null && (value as { ok?: unknown }).ok === true;
}

/** The tokens carried by a Yjs update (strings of its inserted items). */
export function tokensInUpdate(update: Uint8Array): string[] {
  const out: string[] = [];
  for (const struct of Y.decodeUpdate(update).structs) {
    if (struct instanceof Y.Item && struct.content instanceof Y.ContentString) {
      out.push(...(struct.content.str.match(TOKEN_PATTERN) ?? []));
    }
  }
  return out;
}

/**
 * A random insert position at an item boundary. Every insert of the load is one whole token,
 * and inserting only between items never splits one, so every token stays contiguous in every
 * replica (concurrent inserts at one boundary are ordered by Yjs, not interleaved).
 */
export function randomItemBoundary(text: Y.Text): number {
  const length = text.length;
  if (length === 0) return 0;
  return itemBoundaryNear(text, Math.floor(Math.random() * (length + 1)));
}

/** The item boundary of `text` nearest to the index `target` (never inside an item). */
export function itemBoundaryNear(text: Y.Text, target: number): number {
  let index = 0;
  for (let item = text._start; item !== null; item = item.right) {
    if (item.deleted || !item.countable) continue;
    if (index + item.length > target)
      return target - index < index + item.length - target ? index : index + item.length;
    index += item.length;
  }
  return index;
}

/**
 * Every token the suite typed (steady load and burst clients alike) and when the server
 * acknowledged it.
 */
export class TokenLedger {
  readonly tokens = new Map<string, TypedToken>();
  /** The same tokens in the order they were typed. */
  readonly list: TypedToken[] = [];
  private sequence = 0;

  /** A new unique token for a client. */
  next(clientIndex: number): string {
    return `{c${clientIndex}.${++this.sequence}}`;
  }

  record(token: TypedToken): void {
    this.tokens.set(token.token, token);
    this.list.push(token);
  }

  /** A `file:edit` carrying this update was acknowledged now. */
  ack(update: Uint8Array): void {
    const now = Date.now();
    for (const token of tokensInUpdate(update)) {
      const typed = this.tokens.get(token);
      if (typed !== undefined) typed.ackedAt ??= now;
    }
  }

  /** Tokens acknowledged at or before `untilMs`, by shard (every shard in `shards` has an entry). */
  acknowledged(shards: readonly ShardId[], untilMs = Number.POSITIVE_INFINITY): Map<ShardId, Set<string>> {
    const out = new Map<ShardId, Set<string>>(shards.map((s) => [s, new Set<string>()]));
    for (const t of this.tokens.values()) {
      if (t.ackedAt !== undefined && t.ackedAt <= untilMs) out.get(t.shardId)?.add(t.token);
    }
    return out;
  }

  /** Number of tokens acknowledged within [fromMs, toMs]. */
  ackedBetween(fromMs: number, toMs: number): number {
    let n = 0;
    for (const t of this.tokens.values()) if (t.ackedAt !== undefined && t.ackedAt >= fromMs && t.ackedAt <= toMs) n++;
    return n;
  }

  get ackedCount(): number {
    let n = 0;
    for (const t of this.tokens.values()) if (t.ackedAt !== undefined) n++;
    return n;
  }
}

export type EditLoadOptions = {
  shards: readonly ShardId[];
  clients: number;
  /** Balancer URL for client i (clients are spread over the balancers). */
  urlFor: (clientIndex: number) => string;
  /** A token for client i (each client is its own user: per-user connection limits apply per instance). */
  tokenFor: (clientIndex: number) => Promise<string>;
  /** The file every client of a shard types into. */
  path: string;
  /** Each client types one token every min..max ms. */
  intervalMs: readonly [number, number];
  ledger: TokenLedger;
};

/**
 * The steady edit load: many SDK clients over a few shards, each typing a unique token at a
 * random position every 50–100 ms, all clients of a shard in the same file.
 */
export class EditLoad {
  readonly clients: LoadClient[] = [];
  private running = false;
  private readonly timers = new Set<NodeJS.Timeout>();
  private resumedAt = 0;
  private runMs = 0;
  private typedCount = 0;

  private constructor(private readonly options: EditLoadOptions) {}

  static async start(options: EditLoadOptions): Promise<EditLoad> {
    const load = new EditLoad(options);
    try {
      // A few at a time: a thundering herd of joins is not what this suite measures.
      for (let i = 0; i < options.clients; i += 6) {
        const batch = Array.from({ length: Math.min(6, options.clients - i) }, (_, k) => i + k);
        const settled = await Promise.allSettled(
          batch.map(async (index) =>
            LoadClient.connect({
              index,
              shardId: options.shards[index % options.shards.length] as ShardId,
              url: options.urlFor(index),
              token: await options.tokenFor(index),
              path: options.path,
              onAck: (update) => options.ledger.ack(update),
            }),
          ),
        );
        for (const r of settled) if (r.status === 'fulfilled') load.clients.push(r.value);
        const failed = settled.find((r) => r.status === 'rejected');
        if (failed !== undefined) throw (failed as PromiseRejectedResult).reason;
      }
    } catch (error) {
      await load.close();
      throw error;
    }
    return load;
  }

  get shards(): readonly ShardId[] {
    return this.options.shards;
  }

  /** Starts (or resumes) typing. */
  resume(): void {
    if (this.running) return;
    this.running = true;
    this.resumedAt = performance.now();
    for (const client of this.clients) this.schedule(client);
  }

  /** Stops typing (edits already typed are still sent and acknowledged). */
  pause(): void {
    if (this.running) this.runMs += performance.now() - this.resumedAt;
    this.running = false;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }

  /** Tokens the steady clients typed per second of load, all clients together. */
  get typedPerSecond(): number {
    const ms = this.runMs + (this.running ? performance.now() - this.resumedAt : 0);
    return ms === 0 ? 0 : (this.typedCount * 1000) / ms;
  }

  /** Clients of one shard. */
  clientsOf(shardId: ShardId): LoadClient[] {
    return this.clients.filter((c) => c.shardId === shardId);
  }

  async close(): Promise<void> {
    this.pause();
    await Promise.allSettled(this.clients.map((c) => c.close()));
  }

  private schedule(client: LoadClient): void {
    const [min, max] = this.options.intervalMs;
    const timer = setTimeout(
      () => {
        this.timers.delete(timer);
        if (!this.running) return;
        typeToken(client, this.options.ledger);
        this.typedCount++;
        this.schedule(client);
      },
      min + Math.random() * (max - min),
    );
    this.timers.add(timer);
  }
}

/**
 * Types one new token into a client's file and records it. Typed whatever the connection state:
 * offline edits stay in the document and the handshake after the reconnect sends them, like a
 * person who keeps typing.
 */
export function typeToken(client: LoadClient, ledger: TokenLedger): TypedToken {
  const token = ledger.next(client.index);
  const typedAt = Date.now();
  const { yjsClient, clockEnd } = client.type(token);
  const typed: TypedToken = {
    token,
    shardId: client.shardId,
    clientIndex: client.index,
    typedAt,
    yjsClient,
    clockEnd,
    ackedAt: undefined,
  };
  ledger.record(typed);
  return typed;
}
