// Buckets: the list with stats, add, enable/disable.
import { useState } from 'preact/hooks';
import { html } from '../lib/html.js';
import { api, enc } from '../lib/api.js';
import { Empty, ErrorBox, Icon, Loading, Toggle, useLoad } from '../lib/ui.js';
import { bytes, num, time, ago } from '../lib/format.js';
import { BucketForm } from './bucketform.js';

export function Rejection({ r }) {
  if (!r) return null;
  return html`<span class="rejection" title=${`${r.detail} (device ${r.device}, topic ${r.topic}, ${time(r.at)})`}>
    last: ${r.reason}${r.device && html` from <code>${r.device}</code>`} ${ago(r.at)}</span>`;
}

export default function Buckets() {
  const list = useLoad(() => api.get('/buckets'), [], 3000);
  const [adding, setAdding] = useState(false);
  const [err, setErr] = useState(null);
  const setEnabled = async (b, enabled) => {
    setErr(null);
    try { await api.patch('/buckets/' + enc(b.id), { enabled }); list.reload(); } catch (e) { setErr(e); }
  };
  const buckets = list.data;
  return html`
    <div class="page-head"><h1>Buckets</h1>
      <button type="button" class="primary" onClick=${() => setAdding(true)}><${Icon} name="plus" /> Add bucket</button></div>
    <p class="hint">A bucket records every JSON payload published on its topic filter as time series.</p>
    <${ErrorBox} error=${list.error || err} onRetry=${list.error && list.reload} />
    ${!buckets ? !list.error && html`<${Loading} />` : buckets.length === 0 ? html`<${Empty}>
      <p>No buckets yet. Add one with a topic filter such as <code>sensors/#</code> to start recording.</p></${Empty}>` : html`
    <div class="table-wrap"><table>
      <thead><tr><th>Bucket</th><th>Topic</th><th class="num">Points</th><th class="num hide-s">Series</th><th class="num hide-s">Size</th><th class="hide-s">Last point</th><th>Rejected</th><th>Enabled</th></tr></thead>
      <tbody>${buckets.map((b) => html`<tr key=${b.id}>
        <td><a href=${'#/buckets/' + enc(b.id)}><strong>${b.id}</strong></a>${b.name && html`<br /><span class="hint">${b.name}</span>`}
          ${b.stats.error && html`<br /><span class="badge bad" title=${b.stats.error}>store failed</span>`}</td>
        <td>${b.topic ? html`<code>${b.topic}</code>` : html`<span class="hint">API writes only</span>`}</td>
        <td class="num">${num(b.stats.points)}</td>
        <td class="num hide-s">${num(b.stats.series)}</td>
        <td class="num hide-s">${bytes(b.stats.bytes)}</td>
        <td class="hide-s">${b.stats.last_ts ? time(b.stats.last_ts) : '–'}</td>
        <td>${num(b.stats.rejected)} <${Rejection} r=${b.stats.last_rejection} /></td>
        <td><${Toggle} checked=${b.enabled} label=${`${b.id} enabled`} onChange=${(v) => setEnabled(b, v)} /></td>
      </tr>`)}</tbody>
    </table></div>`}
    ${adding && html`<${BucketForm} onClose=${() => setAdding(false)}
      onSaved=${(b) => { setAdding(false); location.hash = '#/buckets/' + enc(b.id); }} />`}`;
}
