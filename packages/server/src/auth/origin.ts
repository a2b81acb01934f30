/**
 * Whether a browser request from `origin` may use this server: requests without an Origin header
 * (servers, scripts; browsers omit it only on same-origin GETs) and from the server's own origin
 * (the Origin's host equals the Host header) always may; other origins only when CORS_ORIGINS
 * lists them (or holds `*`). The opaque origin `null` (sandboxed frames such as the editor's
 * preview, `file:` pages) never may unless CORS_ORIGINS is `*`.
 */
export function isOriginAllowed(
  origin: string | undefined,
  host: string | undefined,
  corsOrigins: ReadonlyArray<string>,
): boolean {
  if (origin === undefined) return true;
  if (corsOrigins.includes('*')) return true;
  if (isSameOrigin(origin, host)) return true;
  return corsOrigins.some((allowed) => allowed.toLowerCase() === origin.toLowerCase());
}

/** Whether `origin` names the host the request was sent to (the Host header). */
export function isSameOrigin(origin: string, host: string | undefined): boolean {
  if (!isHostHeader(host) || origin === 'null') return false;
  try {
    return new URL(origin).host === new URL(`http://${host}`).host;
  } catch {
    // An Origin or Host that does not parse matches nothing.
    return false;
  }
}

/** Whether the Host header names this machine's loopback interface (localhost, 127.0.0.0/8, ::1). */
export function isLoopbackHost(host: string | undefined): boolean {
  if (!isHostHeader(host)) return false;
  let hostname: string;
  try {
    hostname = new URL(`http://${host}`).hostname;
  } catch {
    // A Host header that does not parse is not loopback.
    return false;
  }
  return hostname === 'localhost' || hostname === '[::1]' || /^127(\.\d{1,3}){3}$/.test(hostname);
}

/** A Host header is a host name or address and an optional port, nothing else (no userinfo, path). */
function isHostHeader(host: string | undefined): host is string {
  return host !== undefined && /^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/.test(host);
}
