/**
 * Where the editor's access token comes from, in order: `#token=` in the URL (a share link; then
 * kept in sessionStorage and removed from the address bar), sessionStorage, the server's
 * development token (`GET /dev/token`, only with TANDEM_INSECURE_DEV), else the user pastes one.
 */

const STORAGE_KEY = 'tandem.token';

/** What the editor reads from the server's `/config.json`. */
export type WebConfig = {
  previewCdnUrl: string;
  /** Origin of the preview's host page: PREVIEW_ORIGIN, or this host name on the preview port. */
  previewOrigin: string;
  devToken: boolean;
};

type ServedConfig = { previewCdnUrl?: unknown; preview?: { origin?: unknown; port?: unknown }; devToken?: unknown };

let configPromise: Promise<WebConfig> | undefined;

/** The server's runtime settings for the editor (fetched once). */
export function loadWebConfig(): Promise<WebConfig> {
  configPromise ??= fetch('/config.json')
    .then((response) => (response.ok ? (response.json() as Promise<ServedConfig>) : ({} as ServedConfig)))
    .catch(() => ({}) as ServedConfig)
    .then((config: ServedConfig) => ({
      previewCdnUrl: typeof config.previewCdnUrl === 'string' ? config.previewCdnUrl : 'https://esm.sh',
      previewOrigin: previewOriginOf(config.preview),
      devToken: config.devToken === true,
    }));
  return configPromise;
}

/**
 * The preview's origin: the configured one, else this page's host name on the preview port. A
 * server too old to say gets the next port, the development default.
 */
function previewOriginOf(preview: ServedConfig['preview']): string {
  if (typeof preview?.origin === 'string') return preview.origin;
  const port = typeof preview?.port === 'number' ? preview.port : Number(location.port || '80') + 1;
  return `${location.protocol}//${location.hostname}:${port}`;
}

/** Takes `#token=` out of the URL into sessionStorage. Call once at startup. */
export function captureTokenFromUrl(): void {
  const params = new URLSearchParams(location.hash.replace(/^#/, ''));
  const token = params.get('token');
  if (token === null || token === '') return;
  sessionStorage.setItem(STORAGE_KEY, token);
  params.delete('token');
  const rest = params.toString();
  history.replaceState(history.state, '', `${location.pathname}${location.search}${rest === '' ? '' : `#${rest}`}`);
}

/** The stored token, the dev token, or null when the user must paste one. */
export async function findToken(): Promise<string | null> {
  const stored = sessionStorage.getItem(STORAGE_KEY);
  if (stored !== null && !isExpired(stored)) return stored;
  const config = await loadWebConfig();
  if (!config.devToken) return null;
  try {
    const response = await fetch('/dev/token', { cache: 'no-store' });
    if (!response.ok) return null;
    const { token } = (await response.json()) as { token?: unknown };
    if (typeof token !== 'string') return null;
    sessionStorage.setItem(STORAGE_KEY, token);
    return token;
  } catch {
    // No dev token endpoint reachable: the caller asks the user for a token.
    return null;
  }
}

/** Stores a token the user pasted. */
export function saveToken(token: string): void {
  sessionStorage.setItem(STORAGE_KEY, token.trim());
}

/** Forgets the token (it was refused). */
export function clearToken(): void {
  sessionStorage.removeItem(STORAGE_KEY);
}

/** The claims the editor shows (unverified: the server verifies; this only picks a display name). */
export type TokenInfo = {
  sub: string;
  name: string | undefined;
  role: string | undefined;
  expiresAtMs: number | null;
  /** The token may create projects (role admin, or the `create` claim); share links never may. */
  canCreate: boolean;
};

export function readToken(token: string): TokenInfo | null {
  const payload = token.split('.')[1];
  if (payload === undefined) return null;
  try {
    const json = atob(
      payload
        .replace(/-/g, '+')
        .replace(/_/g, '/')
        .padEnd(Math.ceil(payload.length / 4) * 4, '='),
    );
    const bytes = Uint8Array.from(json, (c) => c.charCodeAt(0));
    const claims = JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>;
    return {
      sub: typeof claims['sub'] === 'string' ? claims['sub'] : 'unknown',
      name: typeof claims['name'] === 'string' ? claims['name'] : undefined,
      role: typeof claims['role'] === 'string' ? claims['role'] : undefined,
      expiresAtMs: typeof claims['exp'] === 'number' ? claims['exp'] * 1000 : null,
      canCreate: claims['role'] === 'admin' || claims['create'] === true,
    };
  } catch {
    // Not a JWT we can read; the server will refuse it and the user is asked again.
    return null;
  }
}

function isExpired(token: string): boolean {
  const info = readToken(token);
  return info?.expiresAtMs != null && info.expiresAtMs < Date.now();
}
