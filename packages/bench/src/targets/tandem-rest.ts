import { pool } from '../generator/run-fanout.js';

/** Creates `count` shards from a template through the REST API; returns their ids. */
export async function createShards(
  url: string,
  token: string,
  count: number,
  templateId = 'static',
  concurrency = 8,
): Promise<string[]> {
  const ids: string[] = new Array<string>(count);
  await pool(
    Array.from({ length: count }, (_, i) => i),
    concurrency,
    async (i) => {
      const response = await fetch(`${url}/shards`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ templateId, name: `bench ${i}` }),
      });
      if (!response.ok) throw new Error(`POST /shards: ${response.status} ${await response.text()}`);
      ids[i] = ((await response.json()) as { shard: { id: string } }).shard.id;
    },
  );
  return ids;
}

/** Reads one sample of a Prometheus metric (first line that starts with `name`). */
export function metricValue(text: string, name: string): number | null {
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name} `) || line.startsWith(`${name}{`))
      return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return null;
}
