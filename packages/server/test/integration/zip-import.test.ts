import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { zipSync, type Zippable } from 'fflate';
import type { ErrorBody, ShardDetail } from '@tandem/protocol';
import { TandemRest } from '@tandem/client-sdk';
import { adminToken, tokenFor } from '../support/test-app.js';
import { useTandem } from '../support/harness.js';

const text = (s: string) => new TextEncoder().encode(s);

async function upload(url: string, zip: Uint8Array, query = '', token?: string) {
  const res = await fetch(`${url}/shards/import${query}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token ?? (await adminToken())}`, 'content-type': 'application/zip' },
    body: new Blob([zip as Uint8Array<ArrayBuffer>]),
  });
  const body = (await res.json()) as { shard?: ShardDetail; error?: ErrorBody };
  return { status: res.status, shard: body.shard, error: body.error };
}

/** The zip with its one entry's declared uncompressed size rewritten (a zip bomb that lies). */
function withDeclaredSize(zip: Uint8Array, size: number): Uint8Array {
  const out = new Uint8Array(zip);
  const view = new DataView(out.buffer);
  for (let i = 0; i + 4 <= out.length; i++) {
    const signature = view.getUint32(i, true);
    if (signature === 0x04034b50) view.setUint32(i + 22, size, true);
    if (signature === 0x02014b50) view.setUint32(i + 24, size, true);
  }
  return out;
}

describe('POST /shards/import', () => {
  const t = useTandem({
    database: 'sqlite',
    env: {
      MAX_FILES_PER_SHARD: '6',
      MAX_FILE_BYTES: '2048',
      MAX_ASSET_BYTES: '4096',
      IMPORT_MAX_BYTES: '12000',
    },
  });

  it('creates a shard from a project zip: its folder name, its template and dependencies, text and binary files', async () => {
    const logo = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, ...randomBytes(100)]);
    const zip = zipSync({
      'my-app/': {},
      'my-app/package.json': text(JSON.stringify({ dependencies: { react: '18.3.1', 'react-dom': '18.3.1' } })),
      'my-app/index.html': text('<div id="root"></div><img src="public/logo.png">'),
      'my-app/src/main.jsx': text('import logo from "../public/logo.png";\n'),
      'my-app/public/logo.png': logo,
      'my-app/node_modules/react/index.js': text('module.exports = {};'),
      'my-app/.git/HEAD': text('ref: refs/heads/main'),
      '__MACOSX/my-app/._index.html': new Uint8Array([0, 5, 22, 7]),
    } satisfies Zippable);
    const rest = new TandemRest({ url: t.url(), token: await adminToken() });
    const { shard } = await rest.importZip(zip);
    expect(shard).toMatchObject({ name: 'my-app', templateId: 'react', dependencies: { react: '18.3.1' } });
    expect(shard.files.map((f) => [f.path, f.kind])).toEqual([
      ['index.html', undefined],
      ['package.json', undefined],
      ['public/logo.png', 'binary'],
      ['src/main.jsx', undefined],
    ]);
    expect((await rest.readBinaryFile(shard.id, 'public/logo.png')).bytes).toEqual(logo);
    expect((await rest.readFile(shard.id, 'src/main.jsx')).content).toContain('logo.png');
    // Live: it opens like any shard, the image stays binary.
    const session = await t.session(shard.id);
    expect(session.isBinary('public/logo.png')).toBe(true);
    expect((await session.openFile('index.html')).toString()).toContain('<img');

    const named = await upload(t.url(), zipSync({ 'a.txt': text('a') }), '?name=Mine&templateId=vanilla');
    expect(named.status).toBe(201);
    expect(named.shard).toMatchObject({ name: 'Mine', templateId: 'vanilla' });
    const plain = await upload(t.url(), zipSync({ 'index.html': text('<p>hi</p>') }));
    expect(plain.shard).toMatchObject({ name: 'Imported project', templateId: 'static' });
  });

  it('refuses entries that escape the project (zip-slip), naming the entry, and writes nothing', async () => {
    for (const name of ['../evil.js', 'src/../../evil.js', '/etc/passwd', 'C:/Windows/evil.js', '..\\evil.js']) {
      const result = await upload(t.url(), zipSync({ 'ok.js': text('ok'), [name]: text('x') }));
      expect(result.status, name).toBe(400);
      expect(result.error?.code, name).toBe('PATH_INVALID');
      expect(result.error?.details?.['entry'], name).toBe(name.replaceAll('\\', '/'));
    }
  });

  it('refuses too many files, oversized entries, lying sizes, too much in all, and what is not a zip', async () => {
    const many: Zippable = {};
    for (let i = 0; i < 7; i++) many[`f${i}.js`] = text(String(i));
    const tooMany = await upload(t.url(), zipSync(many));
    expect([tooMany.status, tooMany.error?.code]).toEqual([409, 'TOO_MANY_FILES']);

    const bigText = await upload(t.url(), zipSync({ 'big.js': text('x'.repeat(3000)) }));
    expect([bigText.status, bigText.error?.code, bigText.error?.details?.['entry']]).toEqual([
      413,
      'FILE_TOO_LARGE',
      'big.js',
    ]);
    const bigBinary = await upload(t.url(), zipSync({ 'big.png': new Uint8Array(5000) }));
    expect([bigBinary.status, bigBinary.error?.code]).toEqual([413, 'FILE_TOO_LARGE']);

    // Declares 10 bytes, inflates to 4000: stopped while inflating, nothing imported.
    const bomb = withDeclaredSize(zipSync({ 'bomb.bin': new Uint8Array(4000) }), 10);
    const lying = await upload(t.url(), bomb);
    expect([lying.status, lying.error?.code]).toEqual([400, 'ARCHIVE_INVALID']);

    const compressible: Zippable = {};
    for (let i = 0; i < 4; i++) compressible[`z${i}.bin`] = new Uint8Array(4000);
    const uncompressed = await upload(t.url(), zipSync(compressible));
    expect([uncompressed.status, uncompressed.error?.code]).toEqual([413, 'PAYLOAD_TOO_LARGE']);
    const random: Zippable = {};
    for (let i = 0; i < 4; i++) random[`r${i}.bin`] = new Uint8Array(randomBytes(4000));
    const body = await upload(t.url(), zipSync(random, { level: 0 }));
    expect([body.status, body.error?.code]).toEqual([413, 'PAYLOAD_TOO_LARGE']);

    const notZip = await upload(t.url(), text('this is not a zip archive at all'));
    expect([notZip.status, notZip.error?.code]).toEqual([400, 'ARCHIVE_INVALID']);
    const empty = await upload(t.url(), zipSync({ 'node_modules/x.js': text('x') }));
    expect([empty.status, empty.error?.code]).toEqual([400, 'ARCHIVE_INVALID']);
    const twice = await upload(t.url(), zipSync({ 'A.js': text('a'), 'a.js': text('b') }));
    expect([twice.status, twice.error?.code]).toEqual([409, 'FILE_EXISTS']);
    const fileAndFolder = await upload(t.url(), zipSync({ src: text('a'), 'src/b.js': text('b') }));
    expect([fileAndFolder.status, fileAndFolder.error?.code]).toEqual([409, 'FILE_EXISTS']);
  });

  it('needs a token that may create shards, and a known template when one is named', async () => {
    const zip = zipSync({ 'a.txt': text('a') });
    const guest = await tokenFor({ sub: 'guest' });
    const refused = await upload(t.url(), zip, '', guest);
    expect([refused.status, refused.error?.code]).toEqual([403, 'FORBIDDEN']);
    const unknown = await upload(t.url(), zip, '?templateId=no-such-template');
    expect([unknown.status, unknown.error?.code]).toEqual([404, 'TEMPLATE_NOT_FOUND']);
  });
});
