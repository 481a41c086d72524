// Server-sent event streams, shared: every subscriber of the same URL gets
// the events of one EventSource (browsers allow few connections per host).
// A stream that the gateway refuses (a disabled bucket, an expired session)
// is reported, not retried in a loop.
import { BASE, errorFrom, sessionExpired, UNREACHABLE } from './api.js';

const streams = new Map();

/**
 * subscribe(path, {data, state}) follows BASE+path. data(obj) gets each
 * event's JSON; state(s, message) gets 'live', 'connecting' or 'error'.
 * It returns the function that unsubscribes.
 */
export function subscribe(path, handlers) {
  let s = streams.get(path);
  if (!s) {
    s = { subs: new Set(), es: null, state: 'connecting', message: '', timer: 0 };
    streams.set(path, s);
    open(path, s);
  }
  s.subs.add(handlers);
  handlers.state?.(s.state, s.message);
  return () => {
    s.subs.delete(handlers);
    if (s.subs.size === 0) {
      streams.delete(path);
      clearTimeout(s.timer);
      s.es?.close();
    }
  };
}

function setState(s, state, message = '') {
  s.state = state;
  s.message = message;
  for (const h of s.subs) h.state?.(state, message);
}

function open(path, s) {
  const es = new EventSource(BASE + path);
  s.es = es;
  es.onopen = () => setState(s, 'live');
  es.onmessage = (ev) => {
    let obj;
    try { obj = JSON.parse(ev.data); } catch { return; }
    for (const h of s.subs) h.data?.(obj);
  };
  es.addEventListener('end', () => {
    es.close();
    setState(s, 'error', 'The stream was closed by the gateway.');
  });
  es.onerror = () => {
    if (es.readyState !== EventSource.CLOSED) {
      setState(s, 'connecting', 'Reconnecting…');
      return;
    }
    es.close();
    diagnose(path, s);
  };
}

// diagnose finds out why the gateway refused the stream, then retries
// only when the failure may pass.
async function diagnose(path, s) {
  if (!streams.has(path)) return;
  const ctl = new AbortController();
  let retry = true;
  try {
    const res = await fetch(BASE + path, { signal: ctl.signal, headers: { Accept: 'text/event-stream' } });
    if (res.ok) {
      setState(s, 'connecting', 'Reconnecting…');
    } else if (res.status === 401) {
      retry = false;
      sessionExpired();
    } else {
      const err = await errorFrom(res);
      retry = res.status >= 500;
      setState(s, 'error', err.message);
    }
  } catch {
    setState(s, 'error', UNREACHABLE);
  } finally {
    ctl.abort();
  }
  if (retry && streams.has(path)) s.timer = setTimeout(() => streams.has(path) && open(path, s), 3000);
}
