// Donut / progress: a ring filled from min to max (SVG).
import { html } from '../lib/html.js';
import { useFeed, latestValue } from '../lib/live.js';
import { num } from '../lib/format.js';
import { FeedState, mainField } from './status.js';
import { fraction } from './gauge.js';

export default function Donut({ widget }) {
  const o = widget.options || {};
  const field = mainField(widget.source);
  const feed = useFeed(widget.source, { history: { latest: 1 }, max: 10 });
  const v = latestValue(feed.records, field);
  if (v === null) return html`<${FeedState} feed=${feed} />`;
  const c = 2 * Math.PI * 40;
  const f = fraction(v, o);
  return html`<svg class="gauge" viewBox="0 0 100 100" role="img" aria-label=${`${field}: ${num(v)} ${o.unit || ''}`}>
    <circle cx="50" cy="50" r="40" class="track" stroke-width="11" fill="none" />
    <circle cx="50" cy="50" r="40" class="bar" stroke-width="11" fill="none"
      stroke-dasharray=${`${c * f} ${c}`} transform="rotate(-90 50 50)" />
    <text x="50" y="55" text-anchor="middle" font-size="17" font-weight="600">${num(v, Number(o.decimals ?? 0))}${o.unit || ''}</text>
  </svg>`;
}
