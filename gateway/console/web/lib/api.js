// The /api/v1 client: JSON in and out, the CSRF header on changes, errors as
// ApiError, and one place that notices an expired session.

const BASE = '/api/v1';
const KEY = 'perch.csrf';

let csrf = sessionStorage.getItem(KEY) || '';
const expiredListeners = new Set();

export class ApiError extends Error {
  constructor(status, code, message, field = '') {
    super(message);
    this.status = status;
    this.code = code;
    this.field = field;
  }
}

export const UNREACHABLE =
  'The gateway is unreachable: check that it is running and that this device is on its network.';

/** onSessionExpired calls fn whenever the API answers 401. */
export function onSessionExpired(fn) {
  expiredListeners.add(fn);
  return () => expiredListeners.delete(fn);
}

export function hasSession() {
  return csrf !== '';
}

function dropSession() {
  csrf = '';
  sessionStorage.removeItem(KEY);
}

/** sessionExpired forgets the session and tells the app (back to login). */
export function sessionExpired() {
  dropSession();
  for (const fn of expiredListeners) fn();
}

/** errorFrom turns an error response into an ApiError. */
export async function errorFrom(res) {
  let body = null;
  try { body = await res.json(); } catch { /* not JSON */ }
  const e = body && body.error;
  if (e) return new ApiError(res.status, e.code, e.message, e.field || '');
  return new ApiError(res.status, 'http', `${res.status} ${res.statusText || 'error'}`);
}

export async function request(method, path, body) {
  const headers = { Accept: 'application/json' };
  const init = { method, headers, credentials: 'same-origin', cache: 'no-store' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  if (method !== 'GET' && method !== 'HEAD') headers['X-CSRF-Token'] = csrf;
  let res;
  try {
    res = await fetch(BASE + path, init);
  } catch {
    throw new ApiError(0, 'unreachable', UNREACHABLE);
  }
  if (res.status === 401 && path !== '/login') {
    sessionExpired();
    throw new ApiError(401, 'unauthorized', 'Your session has expired: log in again.');
  }
  if (!res.ok) throw await errorFrom(res);
  if (res.status === 204) return null;
  const type = res.headers.get('Content-Type') || '';
  return type.includes('json') ? res.json() : res.text();
}

const early = new Map();

/**
 * prefetch starts GET path at once, for the next api.get(path) within 10 s
 * to take: a page's data then loads alongside its modules rather than
 * after them. If it fails, that api.get asks again.
 */
export function prefetch(path) {
  const p = request('GET', path);
  p.catch(() => { /* the taker asks again */ });
  early.set(path, { p, at: Date.now() });
}

function get(path) {
  const e = early.get(path);
  early.delete(path);
  if (e && Date.now() - e.at < 10e3) return e.p.catch(() => request('GET', path));
  return request('GET', path);
}

export const api = {
  get,
  post: (p, b = {}) => request('POST', p, b),
  put: (p, b = {}) => request('PUT', p, b),
  patch: (p, b) => request('PATCH', p, b),
  del: (p) => request('DELETE', p),
};

export async function login(account, password) {
  const r = await request('POST', '/login', { account, password });
  csrf = r.csrf_token;
  sessionStorage.setItem(KEY, csrf);
  return r;
}

export async function logout() {
  try { await request('POST', '/logout'); } finally { dropSession(); }
}

/** query builds "?a=1&b=2" from an object, leaving out empty values. */
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') q.set(k, v);
  }
  const s = q.toString();
  return s ? '?' + s : '';
}

export const enc = encodeURIComponent;
export { BASE };
