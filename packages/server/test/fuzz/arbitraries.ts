/**
 * Generators shared by the fuzz tests (socket events, REST requests, tokens). Everything here is
 * pure: a generated value describes what to send; the test files send it and check the answer.
 */
import fc from 'fast-check';
import * as Y from 'yjs';
import { CLIENT_EVENT_NAMES } from '@tandem/protocol';

/**
 * How many cases a fuzz property runs: FUZZ_RUNS, else `fallback` (small, for `npm test`). FUZZ_RUNS
 * applies to each fuzz file: `npm run fuzz` sets FUZZ_RUNS=34000, i.e. 3 × 34,000 = 102,000 cases.
 */
export function fuzzRuns(fallback: number): number {
  const raw = process.env['FUZZ_RUNS'];
  const n = raw === undefined || raw === '' ? fallback : Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`FUZZ_RUNS must be a positive integer, got "${raw}"`);
  return n;
}

/** The seed of a fuzz run: FUZZ_SEED when set (to replay a failure), else a fresh one. */
export function fuzzSeed(): number {
  const raw = process.env['FUZZ_SEED'];
  if (raw !== undefined && raw !== '') {
    const n = Number(raw);
    if (!Number.isInteger(n)) throw new Error(`FUZZ_SEED must be an integer, got "${raw}"`);
    return n;
  }
  return (Date.now() ^ Math.floor(Math.random() * 0x7fffffff)) | 0;
}

/** App settings for fuzz servers: the rate limit out of the way, small size limits so huge inputs are cheap. */
export const FUZZ_ENV: Readonly<Record<string, string>> = Object.freeze({
  RATE_EVENTS_PER_SECOND: '100000',
  RATE_EVENTS_BURST: '1000000',
  MAX_CONNECTIONS_PER_USER: '100000',
  SOCKET_MAX_MESSAGE_BYTES: String(1024 * 1024),
  MAX_UPDATE_BYTES: String(64 * 1024),
  MAX_FILE_BYTES: String(63 * 1024),
  HTTP_BODY_LIMIT_BYTES: String(512 * 1024),
  RATE_REST_PER_MINUTE: '1000000',
  RATE_SHARD_CREATES_PER_HOUR: '1000000',
  RATE_SHARE_LINKS_PER_HOUR: '1000000',
});

/** Payloads at least this large may legitimately get the socket closed (over SOCKET_MAX_MESSAGE_BYTES). */
export const MAY_CLOSE_SOCKET_BYTES = 512 * 1024;

/** The control file: nothing the fuzzers generate names it exactly (only case twins of it). */
export const CONTROL_PATH = 'control-7f3a.txt';

// ---- strings and paths -------------------------------------------------------------------------

/** Strings sized around the limits above (file size, update size, socket message size). */
export const hugeString: fc.Arbitrary<string> = fc
  .tuple(fc.constantFrom(1_000, 70_000, 300_000, 600_000), fc.constantFrom('x', 'é', '😀', '\u0000'))
  .map(([n, ch]) => ch.repeat(Math.ceil(n / ch.length)));

/** Any short string, including lone surrogates and control characters. */
export const junkString: fc.Arbitrary<string> = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.constantFrom(
    '',
    ' ',
    '\t',
    '\u0000',
    '\uFEFF',
    '\u202E',
    '\uD800',
    'null',
    'undefined',
    '__proto__',
    'constructor',
  ),
);

/** Names a shard plausibly holds (the vanilla template's files and folders) and twins of them. */
const PATH_POOL = [
  'index.html',
  'Index.html',
  'INDEX.HTML',
  'src',
  'SRC',
  'src/main.js',
  'src/Main.js',
  'src/counter.js',
  'src/style.css',
  'public',
  'public/favicon.svg',
  '.gitignore',
  'CONTROL-7F3A.TXT',
  'Control-7f3a.txt',
  'fuzz',
  'fuzz/a.txt',
  'fuzz/b/c.txt',
  'fuzz/A.txt',
  'café.txt', // NFC
  'cafe\u0301.txt', // NFD twin
  'fuzz/ｆｕｌｌ.txt',
  'fuzz/a b.txt',
  'fuzz/%41.txt',
  'fuzz/%zz.txt',
];

/** A path trick applied to a base path. */
const pathTricks: Array<fc.Arbitrary<(p: string) => string>> = [
  fc.constant((p: string) => p),
  fc.constant((p: string) => `../${p}`),
  fc.constant((p: string) => `${p}/..`),
  fc.constant((p: string) => `a/../${p}`),
  fc.constant((p: string) => `./${p}`),
  fc.constant((p: string) => `${p}/`),
  fc.constant((p: string) => `${p}//.`),
  fc.constant((p: string) => `%2e%2e/${p}`),
  fc.constant((p: string) => `%2E%2E%2F${p}`),
  fc.constant((p: string) => `fuzz%2F${p}`),
  fc.constant((p: string) => `fuzz%5C${p}`),
  fc.constant((p: string) => `%2e/${p}`),
  fc.constant((p: string) => p.replaceAll('/', '\\')),
  fc.constant((p: string) => `..\\${p}`),
  fc.constant((p: string) => `/${p}`),
  fc.constant((p: string) => `//${p}`),
  fc.constant((p: string) => `C:/${p}`),
  fc.constant((p: string) => `c:${p}`),
  fc.constant((p: string) => `./C:/${p}`),
  fc.constant((p: string) => p.normalize('NFD')),
  fc.constant((p: string) => p.normalize('NFKC')),
  fc.constant((p: string) => p.toUpperCase()),
  fc.constant((p: string) => ` /${p}`),
  fc.constant((p: string) => `fuzz/ /${p}`),
  fc.constant((p: string) => `${p}\u0000.js`),
  fc.constant((p: string) => `${p}\u007f`),
  fc.constant((p: string) => `${p}\u0085`),
  fc.constant((p: string) => `${p}\n`),
  fc.constant((p: string) => `\u202E${p}`),
  fc.constant((p: string) => `${'d/'.repeat(15)}${p}`),
  fc.constant((p: string) => `${'d/'.repeat(16)}${p}`),
  fc.constant((p: string) => `${'d/'.repeat(300)}${p}`),
  fc.constant((p: string) => `${'n'.repeat(500)}/${p}`),
  fc.constant((p: string) => `${'n'.repeat(2100)}${p}`),
  fc.constant((p: string) => `${p}.${'e'.repeat(600)}`),
  fc.constant((p: string) => `fuzz/${p}`),
  fc.constant((p: string) => `${p}/child.txt`),
  fc.constant((p: string) => `${p}#frag?x=1`),
  fc.constant((p: string) => `%00${p}`),
];

/** A file path: a plausible one, twisted by one or two tricks, or random text. */
export const pathArb: fc.Arbitrary<string> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc
      .tuple(fc.constantFrom(...PATH_POOL), fc.oneof(...pathTricks), fc.oneof(...pathTricks))
      .map(([p, a, b]) => b(a(p))),
  },
  { weight: 2, arbitrary: fc.constantFrom(...PATH_POOL) },
  { weight: 2, arbitrary: junkString },
  {
    weight: 1,
    arbitrary: fc
      .array(fc.constantFrom('a', 'B', '.', '..', '', ' ', '%2e', '\\', 'é', 'e\u0301', 'C:', '\u0000'), {
        minLength: 1,
        maxLength: 8,
      })
      .map((segments) => segments.join('/')),
  },
);

// ---- Yjs updates ---------------------------------------------------------------------------------

/** A valid Yjs text update: random inserts (and deletes) into the `content` text of a fresh doc. */
export const validTextUpdate: fc.Arbitrary<Uint8Array> = fc
  .record({
    clientId: fc.integer({ min: 1, max: 0x7fffffff }),
    inserts: fc.array(fc.tuple(fc.nat(), fc.string({ unit: 'grapheme', maxLength: 30 })), {
      minLength: 1,
      maxLength: 5,
    }),
    deletes: fc.array(fc.tuple(fc.nat(), fc.nat({ max: 10 })), { maxLength: 2 }),
  })
  .map(({ clientId, inserts, deletes }) => {
    const doc = new Y.Doc();
    doc.clientID = clientId;
    const text = doc.getText('content');
    for (const [at, s] of inserts) text.insert(at % (text.length + 1), s);
    for (const [at, n] of deletes) {
      const from = at % (text.length + 1);
      text.delete(from, Math.min(n, text.length - from));
    }
    return Y.encodeStateAsUpdate(doc);
  });

/**
 * A valid update made against another file's history: it builds on items the target file does not
 * have (so Yjs keeps it pending) or deletes items that do not exist there.
 */
export const foreignTextUpdate: fc.Arbitrary<Uint8Array> = fc
  .tuple(
    fc.integer({ min: 1, max: 0x7fffffff }),
    fc.string({ minLength: 1, maxLength: 20 }),
    fc.string({ maxLength: 10 }),
    fc.boolean(),
  )
  .map(([clientId, base, more, del]) => {
    const doc = new Y.Doc();
    doc.clientID = clientId;
    const text = doc.getText('content');
    text.insert(0, base);
    const before = Y.encodeStateVector(doc);
    doc.clientID = clientId + 1;
    if (del) text.delete(0, Math.ceil(text.length / 2));
    text.insert(Math.floor(text.length / 2), more === '' ? 'z' : more);
    return Y.encodeStateAsUpdate(doc, before);
  });

/** A valid update that touches some other root type (or nests types): the server must refuse it. */
export const otherRootUpdate: fc.Arbitrary<Uint8Array> = fc
  .tuple(
    fc.constantFrom('map', 'array', 'otherText', 'xml', 'textFormat', 'textEmbed', 'mapOfText'),
    fc.string({ maxLength: 10 }),
  )
  .map(([kind, s]) => {
    const doc = new Y.Doc();
    switch (kind) {
      case 'map':
        doc.getMap('content').set('k', s);
        break;
      case 'array':
        doc.getArray('evil').insert(0, [s, 1, { a: s }]);
        break;
      case 'otherText':
        doc.getText('content2').insert(0, s || 'x');
        break;
      case 'xml':
        doc.getXmlFragment('prosemirror').insert(0, [new Y.XmlText(s || 'x')]);
        break;
      case 'textFormat':
        doc.getText('content').insert(0, s || 'x', { bold: true });
        break;
      case 'textEmbed':
        doc.getText('content').insertEmbed(0, { image: s });
        break;
      default:
        doc.getMap('m').set('t', new Y.Text(s || 'x'));
        break;
    }
    return Y.encodeStateAsUpdate(doc);
  });

/** Bytes: random, a valid update with one byte changed or cut short, or one of the kinds above. */
export const updateBytes: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.uint8Array({ maxLength: 64 }),
  fc.uint8Array({ minLength: 60_000, maxLength: 70_000 }),
  validTextUpdate,
  foreignTextUpdate,
  otherRootUpdate,
  fc.tuple(validTextUpdate, fc.nat(), fc.integer({ min: 1, max: 255 })).map(([u, i, x]) => {
    const copy = u.slice();
    const at = i % copy.length;
    copy[at] = (copy[at] ?? 0) ^ x;
    return copy;
  }),
  fc.tuple(validTextUpdate, fc.nat()).map(([u, n]) => u.slice(0, n % u.length)),
  fc.constant(new Uint8Array([0, 0])),
  fc.constant(new Uint8Array(0)),
);

// ---- socket events -------------------------------------------------------------------------------

/** The real client events (the fuzzer also sends junk names). */
export const SOCKET_EVENTS = CLIENT_EVENT_NAMES;

/** What the socket fuzzer knows about the server: shard ids and file ids it may aim at. */
export type SocketTargets = {
  shardId: string;
  otherShardId: string;
  fileIds: readonly string[];
};

/** A shard id: the fuzzed shard most of the time, else another, unknown, wrongly cased or junk. */
function shardIdArb(t: SocketTargets): fc.Arbitrary<unknown> {
  return fc.oneof(
    { weight: 12, arbitrary: fc.constant(t.shardId) },
    { weight: 1, arbitrary: fc.constant(t.otherShardId) },
    { weight: 1, arbitrary: fc.uuid({ version: 4 }) },
    { weight: 1, arbitrary: fc.constant(t.shardId.toUpperCase()) },
    { weight: 1, arbitrary: fc.constant(` ${t.shardId}`) },
    { weight: 1, arbitrary: junkString },
  );
}

function fileIdArb(t: SocketTargets): fc.Arbitrary<unknown> {
  return fc.oneof(
    { weight: 8, arbitrary: fc.constantFrom(...t.fileIds) },
    { weight: 2, arbitrary: fc.stringMatching(/^[A-Za-z0-9_-]{8,64}$/) },
    { weight: 1, arbitrary: fc.constantFrom('short', 'x'.repeat(65), '../../etc', 'AAAAAAA!', '') },
    { weight: 1, arbitrary: junkString },
  );
}

/** A well-formed payload for each real event (the starting point of the mutations). */
function validPayload(event: (typeof SOCKET_EVENTS)[number], t: SocketTargets): fc.Arbitrary<Record<string, unknown>> {
  const shardId = shardIdArb(t);
  switch (event) {
    case 'shard:join':
    case 'shard:leave':
      return fc.record({ shardId });
    case 'file:sync':
      return fc.record({
        shardId,
        fileId: fileIdArb(t),
        stateVector: fc.oneof(
          fc.constant(new Uint8Array([0])),
          fc.constant(new Uint8Array(0)),
          fc.uint8Array({ maxLength: 32 }),
          updateBytes,
        ),
      });
    case 'file:edit':
      return fc.record({ shardId, fileId: fileIdArb(t), update: updateBytes });
    case 'file:create':
      return fc.record(
        { shardId, path: pathArb, content: fc.oneof(fc.string({ maxLength: 200 }), hugeString) },
        { requiredKeys: ['shardId', 'path'] },
      );
    case 'file:rename':
      return fc.record({ shardId, from: pathArb, to: pathArb });
    case 'file:delete':
      return fc.record({ shardId, path: pathArb });
    case 'presence:update':
      return fc.record({
        shardId,
        update: fc.oneof(updateBytes, fc.uint8Array({ minLength: 65_000, maxLength: 70_000 })),
      });
  }
}

/** A wrong-typed value for a field. */
const wrongValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.anything({ maxDepth: 2, maxKeys: 4 }),
  fc.constantFrom(null, 0, -1, 1.5, true, [], {}, 'x', [1, 2, 3]),
  hugeString,
  fc.uint8Array({ maxLength: 16 }),
  fc.constant({ type: 'Buffer', data: [1, 2, 3] }),
);

/** One change to a payload object: none, drop a key, add one, replace a value, or replace the whole payload. */
function mutatePayload(payload: Record<string, unknown>): fc.Arbitrary<unknown> {
  const keys = Object.keys(payload);
  return fc.oneof(
    { weight: 6, arbitrary: fc.constant(payload) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(...keys).map((k) => {
        const copy = { ...payload };
        delete copy[k];
        return copy;
      }),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.constantFrom('extra', 'content', 'shardId2', '__proto__', 'constructor', 'toString'), wrongValue)
        .map(([k, v]) => {
          const copy: Record<string, unknown> = { ...payload };
          Object.defineProperty(copy, k, { value: v, enumerable: true, writable: true, configurable: true });
          return copy;
        }),
    },
    { weight: 2, arbitrary: fc.tuple(fc.constantFrom(...keys), wrongValue).map(([k, v]) => ({ ...payload, [k]: v })) },
    { weight: 1, arbitrary: wrongValue },
    { weight: 1, arbitrary: fc.constantFrom(undefined, null, [payload], JSON.stringify(payload)) },
  );
}

/** A socket event: a real event name with a (mutated) payload, or a junk event name. */
export type SocketCase = { event: string; payload: unknown };

export function socketCaseArb(t: SocketTargets): fc.Arbitrary<SocketCase> {
  const real = fc.constantFrom(...SOCKET_EVENTS).chain((event) =>
    validPayload(event, t)
      .chain(mutatePayload)
      .map((payload) => ({ event, payload })),
  );
  const junk = fc.record({
    event: fc.oneof(
      fc.constantFrom(
        'shard:error',
        'file:edited',
        'tree:changed',
        'presence:updated',
        'shard:resync',
        'SHARD:JOIN',
        'shard:join ',
        'file:',
        '__proto__',
        'constructor',
        'hasOwnProperty',
        'toString',
        'error',
        '',
      ),
      fc.string({ maxLength: 30 }),
    ),
    payload: wrongValue,
  });
  return fc.oneof({ weight: 9, arbitrary: real }, { weight: 1, arbitrary: junk });
}

// ---- REST requests -------------------------------------------------------------------------------

export type RestCase = {
  method: string;
  /** The raw request target (already encoded as sent on the wire). */
  path: string;
  contentType: string | undefined;
  body: string | Uint8Array | undefined;
  /** Which credentials to send. */
  as: 'admin' | 'editor' | 'viewer' | 'none';
};

/** Puts a path on the wire: characters Node refuses in a request target are percent-encoded, the rest go raw. */
export function wirePath(p: string): string {
  let out = '';
  for (const ch of p) {
    const code = ch.codePointAt(0) ?? 0;
    out += code >= 0x21 && code <= 0x7e ? ch : encodeLoosely(ch);
  }
  return out;
}

/** encodeURIComponent that survives lone surrogates (they become U+FFFD first). */
export function encodeLoosely(s: string): string {
  try {
    return encodeURIComponent(s);
  } catch {
    // A lone surrogate: URIError. Replace every surrogate; the case still tests an odd name.
    return encodeURIComponent(s.replace(/[\uD800-\uDFFF]/g, '\uFFFD'));
  }
}

/** A file path as a URL suffix: raw tricks, fully encoded, or encoded per segment. */
const urlFilePath: fc.Arbitrary<string> = fc
  .tuple(pathArb, fc.constantFrom('raw', 'encoded', 'segments'))
  .map(([p, how]) => {
    if (how === 'encoded') return encodeLoosely(p);
    if (how === 'segments')
      return p
        .split('/')
        .map((s) => encodeLoosely(s))
        .join('/');
    return wirePath(p);
  });

const jsonBody = (t: { shardId: string }): fc.Arbitrary<unknown> =>
  fc.oneof(
    fc.record({ content: fc.oneof(fc.string({ maxLength: 100 }), wrongValue) }, { requiredKeys: [] }),
    fc.record(
      { path: pathArb, content: fc.oneof(fc.string({ maxLength: 50 }), hugeString, wrongValue) },
      { requiredKeys: ['path'] },
    ),
    fc.record({ from: pathArb, to: pathArb }),
    fc.record(
      {
        access: fc.constantFrom('read', 'write', 'admin', 'READ'),
        ttlSeconds: fc.oneof(fc.integer(), fc.double(), wrongValue),
      },
      { requiredKeys: [] },
    ),
    fc.record(
      {
        templateId: fc.oneof(fc.constantFrom('vanilla', 'nope', ''), junkString),
        name: fc.oneof(junkString, wrongValue),
      },
      { requiredKeys: [] },
    ),
    fc.record({ shardId: fc.constant(t.shardId), extra: wrongValue }),
    fc.anything({ maxDepth: 3 }),
  );

export function restCaseArb(t: { shardId: string; otherShardId: string }): fc.Arbitrary<RestCase> {
  const id = fc.oneof(
    { weight: 8, arbitrary: fc.constant(t.shardId) },
    { weight: 1, arbitrary: fc.constant(t.otherShardId) },
    { weight: 1, arbitrary: fc.uuid({ version: 4 }) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(t.shardId.toUpperCase(), `${t.shardId}%00`, '..', '%2e%2e', '', ' ', 'not-a-uuid'),
    },
    { weight: 1, arbitrary: junkString.map((s) => encodeLoosely(s)) },
  );
  const shardPath = fc
    .tuple(
      id,
      fc.oneof(
        { weight: 2, arbitrary: fc.constant('') },
        {
          weight: 1,
          arbitrary: fc.constantFrom(
            '/zip',
            '/tokens',
            '/move',
            '/files',
            '/files/',
            '/',
            '//',
            '/FILES/index.html',
            '/files/index.html?raw',
            '/files/index.html?raw&raw=1',
            '/checkpoints',
            '/checkpoints?limit=0',
            '/checkpoints?limit=1&before=abc',
            '/checkpoints?before=99999999999999999999',
            '/checkpoints/1',
            '/checkpoints/0',
            '/checkpoints/-1',
            '/checkpoints/abc',
            '/checkpoints/1/files/index.html?raw',
            '/checkpoints/1/files/..%2F..%2Fetc',
            '/checkpoints/99999999999999999999/files/x',
            '/checkpoints/1/diff',
            '/checkpoints/1/diff?to=now&path=src',
            '/checkpoints/1/diff?to=0',
            '/checkpoints/1/diff?path=%00',
            '/checkpoints/1/restore',
          ),
        },
        { weight: 8, arbitrary: urlFilePath.map((p) => `/files/${p}`) },
      ),
    )
    .map(([i, rest]) => `/shards/${i}${rest}`);
  const templatePath = fc.oneof(
    fc.constantFrom(
      '/templates',
      '/templates/',
      '/templates/vanilla',
      '/templates/nope',
      '/templates/..%2Fshards',
      '/templates/%00',
    ),
    junkString.map((s) => `/templates/${encodeLoosely(s)}`),
  );
  const path = fc.oneof(
    { weight: 10, arbitrary: shardPath },
    { weight: 2, arbitrary: templatePath },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        '/shards',
        '/shards/',
        '/shards?x=1',
        '/shards/../templates',
        '/shards/%',
        '/shards/%zz',
        '/%2e%2e/shards',
        '/templates/%E0%A4%A',
      ),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.constantFrom('/shards/', '/templates/'), fc.string({ unit: 'binary', maxLength: 40 }))
        .map(([a, b]) => a + wirePath(b)),
    },
  );
  const body = fc.oneof(
    { weight: 2, arbitrary: fc.constant({ contentType: undefined, body: undefined }) },
    {
      weight: 6,
      arbitrary: jsonBody(t).map((v) => ({ contentType: 'application/json', body: JSON.stringify(v) ?? 'null' })),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        contentType: fc.constantFrom(
          'application/json',
          'application/json; charset=utf-8',
          'application/json; charset=latin1',
          'text/plain',
          'application/x-www-form-urlencoded',
          'multipart/form-data; boundary=x',
          'application/octet-stream',
          'APPLICATION/JSON',
          'application/vnd.api+json',
          'x',
        ),
        body: fc.oneof(
          fc.string({ maxLength: 100 }),
          fc.constantFrom(
            '{',
            '{"content":',
            'null',
            '[]',
            '""',
            '{"__proto__":{"x":1}}',
            '{"constructor":{"prototype":{"x":1}}}',
            '\uFEFF{}',
          ),
          fc.uint8Array({ maxLength: 100 }),
          fc.constant('{"content":"' + 'x'.repeat(600 * 1024) + '"}'),
        ),
      }),
    },
  );
  return fc
    .record({
      method: fc.oneof(
        { weight: 10, arbitrary: fc.constantFrom('GET', 'PUT', 'POST', 'DELETE') },
        { weight: 1, arbitrary: fc.constantFrom('PATCH', 'HEAD', 'OPTIONS', 'get', 'PROPFIND') },
      ),
      path,
      body,
      as: fc.constantFrom('admin', 'admin', 'admin', 'editor', 'viewer', 'none'),
    })
    .map(({ method, path: p, body: b, as }) => ({
      method,
      path: wirePath(p),
      contentType: b.contentType,
      body: b.body,
      as,
    }));
}

// ---- tokens -----------------------------------------------------------------------------------------

/** Claims to sign: the valid kinds, and swapped, missing or wrongly typed ones. */
export type ClaimsCase = Record<string, unknown>;

export function claimsArb(t: { shardId: string; otherShardId: string }): fc.Arbitrary<ClaimsCase> {
  const grant = fc.oneof(
    { weight: 12, arbitrary: fc.constantFrom('read', 'write') },
    { weight: 1, arbitrary: fc.constantFrom('admin', 'WRITE', '', 1, true, null) },
  );
  const shardKey = fc.constantFrom(
    t.shardId,
    t.otherShardId,
    '*',
    t.shardId.toUpperCase(),
    '__proto__',
    'constructor',
    '',
  );
  const rarely = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined, freq: 8 });
  return fc.record({
    sub: fc.oneof(
      { weight: 8, arbitrary: fc.string({ minLength: 1, maxLength: 20 }) },
      { weight: 1, arbitrary: fc.constantFrom('', 'x'.repeat(201), 42, null, ['a'], { a: 1 }) },
    ),
    name: fc.option(
      fc.oneof(
        { weight: 8, arbitrary: fc.string({ maxLength: 20 }) },
        { weight: 1, arbitrary: fc.constantFrom('x'.repeat(201), 7) },
      ),
      { nil: undefined },
    ),
    role: fc.option(
      fc.oneof(
        { weight: 8, arbitrary: fc.constantFrom('admin', 'user') },
        { weight: 1, arbitrary: fc.constantFrom('root', 'ADMIN', '', 1) },
      ),
      { nil: undefined },
    ),
    shards: fc.option(
      fc.oneof(
        { weight: 8, arbitrary: fc.dictionary(shardKey, grant, { maxKeys: 3 }) },
        { weight: 1, arbitrary: fc.constantFrom([t.shardId], t.shardId, null, 'write') },
      ),
      { nil: undefined, freq: 6 },
    ),
    create: rarely(fc.constantFrom(true, false, 'true', 1)),
    exp: fc.option(
      fc.oneof(
        { weight: 2, arbitrary: fc.integer({ min: -86_400, max: -60 }).map((s) => ({ relative: s })) },
        { weight: 8, arbitrary: fc.integer({ min: 120, max: 86_400 }).map((s) => ({ relative: s })) },
        { weight: 1, arbitrary: fc.constantFrom('soon', null, 1e20, -1) },
      ),
      { nil: undefined, freq: 8 },
    ),
    nbf: rarely(
      fc.oneof(
        fc.integer({ min: -3600, max: -60 }).map((s) => ({ relative: s })),
        fc.integer({ min: 120, max: 3600 }).map((s) => ({ relative: s })),
      ),
    ),
    iat: rarely(fc.constantFrom('yesterday', -5, 0)),
    aud: rarely(fc.constantFrom('someone-else', ['a', 'b'])),
    iss: rarely(fc.constant('evil')),
  });
}

/** How a token is signed. */
export type SignCase = 'hs256' | 'hs256-wrong-secret' | 'hs512' | 'hs384' | 'none' | 'none-upper';

export const signArb: fc.Arbitrary<SignCase> = fc.oneof(
  { weight: 8, arbitrary: fc.constant<SignCase>('hs256') },
  { weight: 1, arbitrary: fc.constantFrom<SignCase>('hs256-wrong-secret', 'hs512', 'hs384', 'none', 'none-upper') },
);

/** A change to a signed token (its three parts). */
export type Tamper =
  | { kind: 'none' }
  | { kind: 'flip'; part: 0 | 1 | 2; index: number; by: number }
  | { kind: 'drop-signature' }
  | { kind: 'drop-part'; part: 0 | 1 | 2 }
  | { kind: 'swap-header-payload' }
  | { kind: 'header'; header: Record<string, unknown> }
  | { kind: 'payload-of-other' }
  | { kind: 'standard-base64' }
  | { kind: 'extra-part' }
  | { kind: 'garbage'; text: string }
  | { kind: 'truncate'; by: number };

export const tamperArb: fc.Arbitrary<Tamper> = fc.oneof(
  { weight: 4, arbitrary: fc.constant<Tamper>({ kind: 'none' }) },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('flip' as const),
      part: fc.constantFrom(0 as const, 1 as const, 2 as const),
      index: fc.nat(),
      by: fc.integer({ min: 1, max: 63 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.oneof(
      fc.constant<Tamper>({ kind: 'drop-signature' }),
      fc.constantFrom(0 as const, 1 as const, 2 as const).map((part): Tamper => ({ kind: 'drop-part', part })),
      fc.constant<Tamper>({ kind: 'swap-header-payload' }),
      fc.constant<Tamper>({ kind: 'payload-of-other' }),
      fc.constant<Tamper>({ kind: 'standard-base64' }),
      fc.constant<Tamper>({ kind: 'extra-part' }),
      fc.integer({ min: 1, max: 40 }).map((by): Tamper => ({ kind: 'truncate', by })),
      fc
        .constantFrom<Record<string, unknown>>(
          { alg: 'none' },
          { alg: 'None', typ: 'JWT' },
          { alg: 'HS512' },
          { alg: 'RS256' },
          { alg: 'HS256', crit: ['exp'] },
          { alg: 'HS256', b64: false, crit: ['b64'] },
          { alg: 'HS256', jku: 'http://127.0.0.1:1/jwks' },
          { alg: 'HS256', kid: '../../dev/null' },
          {},
        )
        .map((header): Tamper => ({ kind: 'header', header })),
      fc
        .string({ unit: fc.constantFrom(...'abcXYZ019-_.=+/'.split('')), maxLength: 60 })
        .map((text): Tamper => ({ kind: 'garbage', text })),
    ),
  },
);

const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** Applies a tamper to a compact JWS; `other` is another valid token (for swapped payloads). */
export function tamperToken(token: string, tamper: Tamper, other: string): string {
  const parts = token.split('.') as [string, string, string];
  const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  switch (tamper.kind) {
    case 'none':
      return token;
    case 'flip': {
      const part = parts[tamper.part];
      if (part.length === 0) return token;
      const i = tamper.index % part.length;
      const old = B64URL.indexOf(part[i] ?? 'A');
      const replacement = B64URL[(old + tamper.by) % 64] ?? 'A';
      const copy: string[] = [...parts];
      copy[tamper.part] = part.slice(0, i) + replacement + part.slice(i + 1);
      return copy.join('.');
    }
    case 'drop-signature':
      return `${parts[0]}.${parts[1]}.`;
    case 'drop-part':
      return parts.filter((_, i) => i !== tamper.part).join('.');
    case 'swap-header-payload':
      return `${parts[1]}.${parts[0]}.${parts[2]}`;
    case 'header':
      return `${b64url(tamper.header)}.${parts[1]}.${parts[2]}`;
    case 'payload-of-other':
      return `${parts[0]}.${other.split('.')[1] ?? ''}.${parts[2]}`;
    case 'standard-base64':
      return parts.map((p) => Buffer.from(p, 'base64url').toString('base64')).join('.');
    case 'extra-part':
      return `${token}.${parts[2]}`;
    case 'garbage':
      return tamper.text;
    case 'truncate':
      return token.slice(0, Math.max(0, token.length - tamper.by));
  }
}
