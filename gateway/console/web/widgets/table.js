// Table: the latest records, newest first.
import { html } from '../lib/html.js';
import { useFeed } from '../lib/live.js';
import { fieldsOf } from '../lib/chart.js';
import { num } from '../lib/format.js';
import { FeedState } from './status.js';

export default function Table({ widget }) {
  const rows = Number(widget.options?.rows || 10);
  const feed = useFeed(widget.source, { history: { latest: rows }, max: rows });
  if (!feed.records.length) return html`<${FeedState} feed=${feed} />`;
  const recs = feed.records.slice(-rows).reverse();
  const topic = widget.source.kind === 'topic';
  const fields = topic ? [] : fieldsOf(recs);
  return html`<div class="table-wrap"><table>
    <thead><tr><th>Time</th><th>${topic ? 'Topic' : 'Device'}</th>${topic ? html`<th>Value</th>` : fields.map((f) => html`<th class="num">${f}</th>`)}</tr></thead>
    <tbody>${recs.map((r) => html`<tr><td>${new Date(r.ts).toLocaleTimeString()}</td><td>${r.device}</td>
      ${topic ? html`<td>${typeof r.raw === 'object' ? JSON.stringify(r.raw) : String(r.raw)}</td>` : fields.map((f) => html`<td class="num">${num(r[f])}</td>`)}</tr>`)}</tbody>
  </table></div>`;
}
