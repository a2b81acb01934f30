/** The project the address names: `/s/<shardId>` or `/?shard=<shardId>`; null on the home page. */
export function currentShardId(): string | null {
  const match = /^\/s\/([^/]+)\/?$/.exec(location.pathname);
  if (match?.[1] !== undefined) return decodeURIComponent(match[1]);
  return new URLSearchParams(location.search).get('shard');
}
