// Overview: the gateway's status, refreshed every 2 seconds.
import { useRef } from 'preact/hooks';
import { html } from '../lib/html.js';
import { api } from '../lib/api.js';
import { ErrorBox, Loading, useLoad, Empty } from '../lib/ui.js';
import { bytes, duration, num } from '../lib/format.js';

function Stat({ label, value, sub }) {
  return html`<div class="stat"><div class="stat-value">${value}</div><div class="stat-label">${label}</div>
    ${sub && html`<div class="hint">${sub}</div>`}</div>`;
}

export default function Overview() {
  const prev = useRef(new Map()); // bucket id → {points, at}
  const { data, error, reload } = useLoad(async () => {
    const [status, buckets, upstream] = await Promise.all([
      api.get('/status'),
      api.get('/buckets').catch((e) => (e.status === 404 ? [] : Promise.reject(e))),
      api.get('/upstream').catch((e) => (e.status === 404 ? { configured: false } : Promise.reject(e))),
    ]);
    const now = Date.now();
    for (const b of buckets) {
      const p = prev.current.get(b.id);
      b.rate = p && now > p.at ? ((b.stats.points - p.points) * 1000) / (now - p.at) : null;
      prev.current.set(b.id, { points: b.stats.points, at: now });
    }
    return { status, buckets, upstream };
  }, [], 2000);
  if (!data) return error ? html`<${ErrorBox} error=${error} onRetry=${reload} />` : html`<${Loading} />`;
  const { status: s, buckets, upstream } = data;
  const m = s.mqtt || {};
  const stored = buckets.reduce((n, b) => n + (b.stats.bytes || 0), 0);
  return html`
    <h1>Overview</h1>
    <${ErrorBox} error=${error} />
    <section class="stats">
      <${Stat} label="devices connected" value=${`${s.devices.connected} / ${s.devices.total}`}
        sub=${html`<a href="#/devices">devices</a>`} />
      <${Stat} label="messages in / s" value=${num(m.messages_in_per_second, 1)} sub=${`${num(m.messages_in)} in total`} />
      <${Stat} label="messages out / s" value=${num(m.messages_out_per_second, 1)} sub=${`${num(m.messages_out)} in total`} />
      <${Stat} label="storage used" value=${bytes(stored)} sub=${`${buckets.length} bucket${buckets.length === 1 ? '' : 's'}`} />
      <${Stat} label="uptime" value=${duration(s.uptime_seconds)} sub=${`since ${new Date(s.started).toLocaleString()}`} />
    </section>
    <div class="cols">
      <section class="card">
        <h2>Gateway</h2>
        <dl class="kv">
          <dt>Version</dt><dd>${s.version}</dd>
          <dt>Host name</dt><dd>${s.hostname || location.hostname}</dd>
          <dt>Account id</dt><dd><code>${s.account}</code></dd>
          <dt>CA fingerprint</dt><dd><code class="wrap">${s.ca_fingerprint || '–'}</code></dd>
          ${Object.entries(s.listeners || {}).sort().map(([k, v]) => html`<dt>${k.replace('_', ' ')}</dt><dd><code>${v}</code></dd>`)}
        </dl>
      </section>
      <section class="card">
        <h2>MQTT</h2>
        <dl class="kv">
          <dt>Clients connected</dt><dd>${num(m.clients_connected)}</dd>
          <dt>Sessions</dt><dd>${num(m.sessions)}</dd>
          <dt>Subscriptions</dt><dd>${num(m.subscriptions)}</dd>
          <dt>Retained messages</dt><dd>${num(m.retained)}</dd>
          <dt>Dropped messages</dt><dd>${num(m.messages_dropped)}</dd>
          <dt>Refused logins</dt><dd>${num(m.auth_failures)}${m.auth_throttled ? ` (${num(m.auth_throttled)} throttled)` : ''}</dd>
          ${m.store_failures > 0 && html`<dt>Store failures</dt><dd class="bad-text">${num(m.store_failures)}</dd>`}
          <dt>Traffic</dt><dd>${bytes(m.bytes_in)} in, ${bytes(m.bytes_out)} out</dd>
        </dl>
      </section>
    </div>
    ${upstream.configured && html`<${Upstream} u=${upstream} />`}
    <section class="card">
      <h2>Ingest per bucket</h2>
      ${buckets.length === 0 ? html`<${Empty}>No buckets yet. <a href="#/buckets">Create one</a> to record what devices publish.</${Empty}>` : html`
      <div class="table-wrap"><table>
        <thead><tr><th>Bucket</th><th class="num">Points</th><th class="num">Points / s</th><th class="num">Size</th><th class="num">Rejected</th><th>State</th></tr></thead>
        <tbody>${buckets.map((b) => html`<tr>
          <td><a href=${'#/buckets/' + encodeURIComponent(b.id)}>${b.name || b.id}</a></td>
          <td class="num">${num(b.stats.points)}</td>
          <td class="num">${b.rate === null ? '…' : num(b.rate, 1)}</td>
          <td class="num">${bytes(b.stats.bytes)}</td>
          <td class="num">${num(b.stats.rejected)}</td>
          <td>${b.stats.error ? html`<span class="badge bad" title=${b.stats.error}>failed</span>` : b.enabled ? html`<span class="badge ok">enabled</span>` : html`<span class="badge">disabled</span>`}</td>
        </tr>`)}</tbody>
      </table></div>`}
    </section>`;
}

// Upstream: the link to the cloud broker and each forwarded bucket's lag.
function Upstream({ u }) {
  const when = (t) => (t ? new Date(t).toLocaleString() : '–');
  return html`<section class="card upstream">
    <h2>Upstream</h2>
    <dl class="kv">
      <dt>Broker</dt><dd><code>${u.url}</code> (MQTT ${u.mqtt_version}, client id <code>${u.client_id}</code>)</dd>
      <dt>State</dt><dd>${u.connected
        ? html`<span class="badge ok">connected</span> since ${when(u.since)}`
        : html`<span class="badge bad">disconnected</span>${u.next_attempt ? ` · next attempt ${when(u.next_attempt)}` : ''}`}</dd>
      ${u.last_error && html`<dt>Last error</dt><dd class=${u.connected ? '' : 'bad-text'}>${u.last_error} <span class="hint">(${when(u.last_error_at)})</span></dd>`}
    </dl>
    ${u.buckets.length === 0 ? html`<${Empty}>No bucket is forwarded (upstream.buckets).</${Empty}>` : html`
    <div class="table-wrap"><table>
      <thead><tr><th>Bucket</th><th class="num">Lag (points)</th><th class="num">Lag</th><th class="num">Sent</th><th>Last sent</th></tr></thead>
      <tbody>${u.buckets.map((b) => html`<tr>
        <td><a href=${'#/buckets/' + encodeURIComponent(b.id)}>${b.id}</a></td>
        <td class="num">${num(b.lag_points)}</td>
        <td class="num">${b.lag_points ? duration(b.lag_seconds) : '–'}</td>
        <td class="num">${num(b.sent_points)}</td>
        <td>${when(b.last_sent)}${b.error ? html` <span class="badge bad" title=${b.error}>error</span>` : ''}</td>
      </tr>`)}</tbody>
    </table></div>`}
  </section>`;
}
