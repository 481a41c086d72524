// A bucket's records, newest first, 50 a page.
import { useState } from 'preact/hooks';
import { html } from '../lib/html.js';
import { api, enc, query } from '../lib/api.js';
import { Empty, ErrorBox, Loading, useLoad } from '../lib/ui.js';
import { num, time } from '../lib/format.js';
import { fieldsOf } from '../lib/chart.js';

const PAGE = 50;

export function DataTable({ bucket }) {
  // pages[i] is the cursor of page i: {to, skip} (skip: records at "to"
  // already shown on the page before).
  const [pages, setPages] = useState([{ to: '', skip: [] }]);
  const cur = pages[pages.length - 1];
  const res = useLoad(async () => {
    const recs = await api.get(`/buckets/${enc(bucket.id)}/data` + query({ sort: 'desc', limit: PAGE + cur.skip.length, to: cur.to }));
    const skip = new Set(cur.skip);
    return recs.filter((r) => !(String(r.ts) === cur.to && skip.has(r.device))).slice(0, PAGE);
  }, [bucket.id, cur]);
  const recs = res.data;
  const next = () => {
    const last = recs[recs.length - 1];
    const skip = recs.filter((r) => r.ts === last.ts).map((r) => r.device);
    setPages([...pages, { to: String(last.ts), skip }]);
  };
  const fields = recs ? fieldsOf(recs) : [];
  return html`<section class="card">
    <div class="card-head"><h2>Data</h2>
      <div class="btn-row">
        <button type="button" class="small" onClick=${() => setPages([{ to: '', skip: [] }])} disabled=${pages.length === 1}>Newest</button>
        <button type="button" class="small" onClick=${() => setPages(pages.slice(0, -1))} disabled=${pages.length === 1}>Newer</button>
        <button type="button" class="small" onClick=${next} disabled=${!recs || recs.length < PAGE}>Older</button>
        <button type="button" class="small" onClick=${res.reload}>Refresh</button>
      </div></div>
    <${ErrorBox} error=${res.error} onRetry=${res.reload} />
    ${!recs ? !res.error && html`<${Loading} />` : recs.length === 0 ? html`<${Empty}>No points ${pages.length > 1 ? 'older than these' : 'yet'}.
      ${bucket.topic && pages.length === 1 && html` Publish a JSON object to <code>${bucket.topic}</code> to record one.`}</${Empty}>` : html`
    <div class="table-wrap"><table class="data">
      <thead><tr><th>Time</th><th>Device</th>${fields.map((f) => html`<th class="num">${f}</th>`)}</tr></thead>
      <tbody>${recs.map((r) => html`<tr><td>${time(r.ts)}</td><td>${r.device}</td>${fields.map((f) => html`<td class="num">${num(r[f], 6)}</td>`)}</tr>`)}</tbody>
    </table></div>
    <p class="hint">Page ${pages.length}, ${recs.length} record${recs.length === 1 ? '' : 's'}, newest first.</p>`}
  </section>`;
}
