// LED: a light whose colour is that of the highest threshold the value
// reaches; off below them all.
import { html } from '../lib/html.js';
import { useFeed, latestValue } from '../lib/live.js';
import { num } from '../lib/format.js';
import { FeedState, mainField } from './status.js';

export function ledColor(v, thresholds = []) {
  let color = null;
  for (const t of [...thresholds].sort((a, b) => a.value - b.value)) if (v >= t.value) color = t.color;
  return color;
}

export default function Led({ widget }) {
  const o = widget.options || {};
  const field = mainField(widget.source);
  const feed = useFeed(widget.source, { history: { latest: 1 }, max: 10 });
  const v = latestValue(feed.records, field);
  if (v === null) return html`<${FeedState} feed=${feed} />`;
  const color = ledColor(v, o.thresholds);
  const style = color ? { background: color, boxShadow: `0 0 12px ${color}` } : {};
  return html`<div class="led-row"><div class="led" style=${style} role="img" aria-label=${`${field} ${num(v)}: ${color ? 'on' : 'off'}`} />
    <span class="widget-state">${num(v)}</span></div>`;
}
