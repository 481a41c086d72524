// One bucket: stats, settings, chart, data, export, clear, delete.
import { useState } from 'preact/hooks';
import { html } from '../lib/html.js';
import { api, enc, query, BASE } from '../lib/api.js';
import { Confirm, ErrorBox, Icon, Loading, useLoad } from '../lib/ui.js';
import { bytes, num, time } from '../lib/format.js';
import { BucketForm } from './bucketform.js';
import { Rejection } from './buckets.js';
import { DataTable } from './bucketdata.js';
import { BucketChart } from './bucketchart.js';
import { RangePicker, apiRange } from './range.js';

function Export({ bucket }) {
  const [range, setRange] = useState({ preset: 'all', from: '', to: '' });
  const [format, setFormat] = useState('csv');
  const r = apiRange(range, bucket.stats);
  const href = `${BASE}/buckets/${enc(bucket.id)}/data` + query({ format, ts_format: 'iso', from: r.from, to: r.to });
  return html`<section class="card">
    <h2>Export</h2>
    <div class="form-row">
      <${RangePicker} value=${range} onChange=${setRange} />
      <label class="inline">format <select value=${format} onChange=${(e) => setFormat(e.target.value)}>
        <option value="csv">CSV</option><option value="json">JSON</option><option value="arff">ARFF (Weka)</option></select></label>
      <a class="button" href=${href} download=${`${bucket.id}.${format}`}><${Icon} name="download" /> Download</a>
    </div>
    <p class="hint">The same file as <code>GET ${href}</code> with an API token.</p>
  </section>`;
}

function Danger({ bucket, onChanged }) {
  const [range, setRange] = useState({ preset: '1h', from: '', to: '' });
  const [dialog, setDialog] = useState(null);
  const close = () => setDialog(null);
  const r = apiRange(range, bucket.stats);
  const clear = () => setDialog(html`<${Confirm} title="Clear data?" action="Clear" onClose=${close}
    onConfirm=${async () => { await api.del(`/buckets/${enc(bucket.id)}/data` + query({ from: r.from, to: r.to })); onChanged(); }}>
    <p>Every point of <strong>${bucket.id}</strong> in ${range.preset === 'all' ? 'the whole bucket' : 'this range'} is deleted.
    The range stays cleared: points later sent with times inside it are refused.</p></${Confirm}>`);
  const del = () => setDialog(html`<${Confirm} title=${`Delete bucket ${bucket.id}?`} onClose=${close}
    onConfirm=${async () => { await api.del('/buckets/' + enc(bucket.id)); location.hash = '#/buckets'; }}>
    <p>The bucket and all its ${num(bucket.stats.points)} points are deleted.</p></${Confirm}>`);
  return html`<section class="card danger-zone">
    <h2>Clear or delete</h2>
    <div class="form-row"><${RangePicker} value=${range} onChange=${setRange} label="Clear" />
      <button type="button" class="danger" onClick=${clear}>Clear data…</button></div>
    <div class="form-row"><button type="button" class="danger" onClick=${del} disabled=${bucket.provisioned}>
      <${Icon} name="trash" /> Delete bucket…</button>
      ${bucket.provisioned && html`<span class="hint">Declared in the config file: remove it there.</span>`}</div>
    ${dialog}
  </section>`;
}

export default function Bucket({ id }) {
  const res = useLoad(() => api.get('/buckets/' + enc(id)), [id], 5000);
  const [editing, setEditing] = useState(false);
  const [err, setErr] = useState(null);
  const b = res.data;
  if (!b) return res.error ? html`<p><a href="#/buckets">← Buckets</a></p><${ErrorBox} error=${res.error} onRetry=${res.reload} />` : html`<${Loading} />`;
  const s = b.stats;
  const setEnabled = async (enabled) => {
    setErr(null);
    try { await api.patch('/buckets/' + enc(id), { enabled }); res.reload(); } catch (e) { setErr(e); }
  };
  return html`
    <p class="crumbs"><a href="#/buckets">Buckets</a> /</p>
    <div class="page-head"><h1>${b.name || b.id} ${b.name && html`<small><code>${b.id}</code></small>`}</h1>
      <div class="btn-row">
        <button type="button" onClick=${() => setEditing(true)}><${Icon} name="edit" /> Settings</button>
        <button type="button" onClick=${() => setEnabled(!b.enabled)}><${Icon} name="power" /> ${b.enabled ? 'Disable' : 'Enable'}</button>
      </div></div>
    ${b.description && html`<p>${b.description}</p>`}
    <${ErrorBox} error=${err || res.error} />
    ${!b.enabled && html`<div class="warn" role="status">This bucket is disabled: it records nothing new and has no live stream until it is enabled.</div>`}
    ${s.error && html`<div class="error" role="alert">Its store failed: ${s.error}. Points published to it are not acknowledged; restart the gateway once the disk has room.</div>`}
    <section class="stats">
      <div class="stat"><div class="stat-value">${num(s.points)}</div><div class="stat-label">points</div></div>
      <div class="stat"><div class="stat-value">${num(s.series)}</div><div class="stat-label">series</div></div>
      <div class="stat"><div class="stat-value">${bytes(s.bytes)}</div><div class="stat-label">on disk</div></div>
      <div class="stat"><div class="stat-value">${num(s.rejected)}</div><div class="stat-label">rejected</div>
        <div class="hint"><${Rejection} r=${s.last_rejection} /></div></div>
    </section>
    <dl class="kv card">
      <dt>Topic</dt><dd>${b.topic ? html`<code>${b.topic}</code>` : 'none (API writes only)'}</dd>
      <dt>Retention</dt><dd>${b.retention === '0' || b.retention === '0s' ? 'forever' : b.retention}</dd>
      <dt>Resolution</dt><dd>${b.resolution}</dd>
      <dt>Points from</dt><dd>${s.first_ts ? `${time(s.first_ts)} to ${time(s.last_ts)}` : '–'}</dd>
      ${s.pending > 0 && html`<dt>Pending</dt><dd>${num(s.pending)}</dd>`}
      ${s.stalls > 0 && html`<dt>Stalls</dt><dd>${num(s.stalls)}</dd>`}
      ${s.live_dropped > 0 && html`<dt>Live events dropped</dt><dd>${num(s.live_dropped)}</dd>`}
      ${s.last_rejection && html`<dt>Last rejection</dt><dd>${s.last_rejection.reason}: ${s.last_rejection.detail}
        (device <code>${s.last_rejection.device}</code>, topic <code>${s.last_rejection.topic}</code>, ${time(s.last_rejection.at)})</dd>`}
    </dl>
    <${BucketChart} bucket=${b} />
    <${DataTable} bucket=${b} />
    <${Export} bucket=${b} />
    <${Danger} bucket=${b} onChanged=${res.reload} />
    ${editing && html`<${BucketForm} bucket=${b} onClose=${() => setEditing(false)} onSaved=${() => { setEditing(false); res.reload(); }} />`}`;
}
