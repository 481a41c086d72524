// Value: the newest number with its unit.
import { html } from '../lib/html.js';
import { useFeed, latestValue } from '../lib/live.js';
import { num, ago } from '../lib/format.js';
import { FeedState, mainField } from './status.js';

export default function Value({ widget }) {
  const o = widget.options || {};
  const field = mainField(widget.source);
  const feed = useFeed(widget.source, { history: { latest: 1 }, max: 10 });
  const v = latestValue(feed.records, field);
  if (v === null) return html`<${FeedState} feed=${feed} />`;
  const last = feed.records[feed.records.length - 1];
  return html`<div><div class="value" aria-live="polite">${num(v, Number(o.decimals ?? 2))}${o.unit && html` <small>${o.unit}</small>`}</div>
    ${widget.h > 1 && html`<div class="widget-state" title=${new Date(last.ts).toLocaleString()}>${ago(last.ts)}</div>`}</div>`;
}
