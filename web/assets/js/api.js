// The panel's only way to the server: the public API (`/v1/...`, SPEC §4)
// with the account's secret key. The key lives in sessionStorage, so it is
// gone when the tab closes and is never written to disk by the panel.

const KEY = 'flowseg.secretKey';

export const session = {
  get key() {
    return sessionStorage.getItem(KEY);
  },
  set(key) {
    sessionStorage.setItem(KEY, key);
  },
  clear() {
    sessionStorage.removeItem(KEY);
  },
};

/** A refused request: the API's `{error: {code, message, details}}`. */
export class ApiError extends Error {
  constructor(status, body) {
    const error = body?.error ?? {};
    super(error.message ?? `The server answered ${status}.`);
    this.status = status;
    this.code = error.code ?? 'unknown';
    this.details = Array.isArray(error.details) ? error.details : [];
  }
}

let onUnauthorized = () => {};

/** Called when the key stops working (401), e.g. to show the sign-in page. */
export function whenUnauthorized(fn) {
  onUnauthorized = fn;
}

/**
 * Sends a request. Resolves to the parsed JSON (null for 204), or to the
 * Response itself with `raw: true` (exports). Rejects with ApiError.
 */
export async function request(method, path, { body, signal, raw = false, key } = {}) {
  const headers = { Authorization: `Bearer ${key ?? session.key ?? ''}` };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal,
  });
  if (!response.ok) {
    let payload = null;
    try {
      payload = await response.json();
    } catch {
      // Not the API's error shape (a proxy's page, say): keep the status.
    }
    const error = new ApiError(response.status, payload);
    if (response.status === 401 && key === undefined) onUnauthorized(error);
    throw error;
  }
  if (raw) return response;
  if (response.status === 204) return null;
  return response.json();
}

export const get = (path, options) => request('GET', path, options);
export const post = (path, body, options) => request('POST', path, { ...options, body });
export const put = (path, body, options) => request('PUT', path, { ...options, body });
export const del = (path, options) => request('DELETE', path, options);

/** `encodeURIComponent` for path segments and query values. */
export const enc = encodeURIComponent;

// Read-mostly lists that several pages use; refreshed on each page load but
// shared between the requests of one page.
let capabilities;

/**
 * Optional endpoints this server has, read from its OpenAPI document (an
 * open endpoint), so the panel can degrade without provoking 404s.
 */
export function serverHas(path) {
  capabilities ??= fetch('/v1/openapi.json')
    .then((r) => (r.ok ? r.json() : { paths: {} }))
    .then((doc) => new Set(Object.keys(doc.paths ?? {})))
    .catch(() => new Set());
  return capabilities.then((paths) => paths.has(path));
}
