// Widget data: a source (a bucket, or a live MQTT topic with a JSON path)
// as records {ts, device, ...values}: history from /data once, then every
// new point appended from the server-sent event streams, never re-read.
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, enc, query } from './api.js';
import { subscribe } from './stream.js';

/** extract reads a JSON path like "env.t" or "batt.0" from a payload. */
export function extract(payload, path) {
  let v = payload;
  if (path) {
    for (const part of path.split('.')) {
      if (v === null || typeof v !== 'object') return undefined;
      v = v[part];
    }
  }
  return v;
}

/** numeric turns a payload value into a number, or null. */
export function numeric(v) {
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'string') {
    const s = v.trim().toLowerCase();
    if (s === 'on' || s === 'true') return 1;
    if (s === 'off' || s === 'false') return 0;
    const n = Number(s);
    return s !== '' && Number.isFinite(n) ? n : null;
  }
  return null;
}

/** topicRecord turns an MQTT stream event into a record. */
export function topicRecord(ev, path) {
  let payload = ev.payload;
  if (ev.encoding === 'utf8') {
    try { payload = JSON.parse(ev.payload); } catch { /* plain text */ }
  }
  const raw = extract(payload, path);
  const label = path || 'value';
  const rec = { ts: ev.ts, device: ev.topic, raw: ev.encoding === 'base64' ? '(binary)' : raw };
  const n = numeric(raw);
  if (n !== null) rec[label] = n;
  else if (!path && payload && typeof payload === 'object') {
    // A whole JSON object: its top-level numbers are the fields.
    for (const [k, v] of Object.entries(payload)) if (numeric(v) !== null && typeof v !== 'string') rec[k] = numeric(v);
  }
  return rec;
}

/** sourceFields are the value names a widget shows. */
export function sourceFields(source) {
  if (source.kind === 'topic') return [source.path || 'value'];
  return source.fields || [];
}

export function streamPath(source) {
  if (source.kind === 'bucket') return `/buckets/${enc(source.bucket)}/stream`;
  if (source.kind === 'topic') return '/mqtt/stream' + query({ filter: source.topic });
  return null;
}

/**
 * useFeed follows a widget's source. history: {from, to, agg, every} for
 * the initial query (bucket sources), or {latest: n} for the newest n
 * records; live: whether to append new points; keep: ms of records to keep
 * (0 for all), max: the most records kept. It returns {records, state,
 * message, version}; version changes when records do (at most every 100 ms, batching bursts).
 */
export function useFeed(source, { history, live = true, keep = 0, max = 5000 }) {
  const recs = useRef([]);
  const [tick, setTick] = useState({ version: 0, state: 'connecting', message: '' });
  const key = JSON.stringify([source, history, live]);
  useEffect(() => {
    recs.current = [];
    let alive = true;
    let pending = 0;
    // bump re-renders: at once for a new state or the history, batched
    // (100 ms) for live points.
    const bump = (patch = {}, now = false) => {
      if (!alive) return;
      if (patch.state || now) {
        clearTimeout(pending);
        pending = 0;
        setTick((t) => ({ ...t, ...patch, version: t.version + 1 }));
        return;
      }
      if (pending) return;
      pending = setTimeout(() => { pending = 0; alive && setTick((t) => ({ ...t, version: t.version + 1 })); }, 100);
    };
    const trim = () => {
      if (keep) {
        const cut = Date.now() - keep;
        let i = 0;
        while (i < recs.current.length && recs.current[i].ts < cut) i++;
        if (i) recs.current.splice(0, i);
      }
      if (recs.current.length > max) recs.current.splice(0, recs.current.length - max);
    };
    const fields = sourceFields(source);
    const add = (rec) => {
      if (source.kind === 'bucket' && source.device && rec.device !== source.device) return;
      const r = recs.current;
      if (r.length && rec.ts < r[r.length - 1].ts) {
        // Late point: insert in time order.
        let i = r.length - 1;
        while (i > 0 && r[i - 1].ts > rec.ts) i--;
        r.splice(i, 0, rec);
      } else r.push(rec);
      trim();
      bump();
    };
    let unsub = null;
    const follow = () => {
      const path = streamPath(source);
      if (!live || !path || !alive) return;
      unsub = subscribe(path, {
        data: (ev) => {
          if (source.kind === 'topic') return add(topicRecord(ev, source.path));
          const values = fields.length ? Object.fromEntries(fields.filter((f) => f in ev.values).map((f) => [f, ev.values[f]])) : ev.values;
          if (fields.length && Object.keys(values).length === 0) return;
          add({ ...values, ts: ev.ts, device: ev.device });
        },
        state: (state, message) => bump({ state, message }),
      });
    };
    // Follow first, then read the history: points that arrive meanwhile
    // are kept once (history stops where the live points begin).
    follow();
    (async () => {
      if (source.kind === 'bucket' && history) {
        const q = history.latest
          ? { sort: 'desc', limit: history.latest }
          : { from: history.from, to: history.to, agg: history.agg, every: history.every };
        try {
          const got = await api.get(`/buckets/${enc(source.bucket)}/data` + query({
            ...q, fields: fields.join(','), device: source.device,
          }));
          if (!alive) return;
          if (history.latest) got.reverse();
          const firstLive = recs.current.length ? recs.current[0].ts : Infinity;
          recs.current = got.filter((r) => r.ts < firstLive).concat(recs.current);
          trim();
          bump(live ? {} : { state: 'done' }, true);
        } catch (e) {
          bump({ state: 'error', message: e.message });
        }
      }
    })();
    return () => { alive = false; clearTimeout(pending); unsub?.(); };
  }, [key]);
  return { records: recs.current, ...tick };
}

/** latestValue is the newest number of field among records, or null. */
export function latestValue(records, field) {
  for (let i = records.length - 1; i >= 0; i--) {
    const v = records[i][field];
    if (typeof v === 'number') return v;
  }
  return null;
}
