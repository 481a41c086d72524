// Gauge: a 240° arc from min to max (SVG).
import { html } from '../lib/html.js';
import { useFeed, latestValue } from '../lib/live.js';
import { num } from '../lib/format.js';
import { FeedState, mainField } from './status.js';

export function arc(cx, cy, r, a0, a1) {
  const p = (a) => [cx + r * Math.cos(a), cy + r * Math.sin(a)];
  const [x0, y0] = p(a0), [x1, y1] = p(a1);
  return `M${x0} ${y0}A${r} ${r} 0 ${a1 - a0 > Math.PI ? 1 : 0} 1 ${x1} ${y1}`;
}

export function fraction(v, o) {
  const min = Number(o.min ?? 0), max = Number(o.max ?? 100);
  return max > min ? Math.min(Math.max((v - min) / (max - min), 0), 1) : 0;
}

export default function Gauge({ widget }) {
  const o = widget.options || {};
  const field = mainField(widget.source);
  const feed = useFeed(widget.source, { history: { latest: 1 }, max: 10 });
  const v = latestValue(feed.records, field);
  if (v === null) return html`<${FeedState} feed=${feed} />`;
  const start = (150 * Math.PI) / 180, sweep = (240 * Math.PI) / 180;
  const f = fraction(v, o);
  return html`<svg class="gauge" viewBox="0 0 120 100" role="img" aria-label=${`${field}: ${num(v)} ${o.unit || ''}`}>
    <path d=${arc(60, 58, 44, start, start + sweep)} class="track" stroke-width="10" fill="none" stroke-linecap="round" />
    ${f > 0.001 && html`<path d=${arc(60, 58, 44, start, start + sweep * f)} class="bar" stroke-width="10" fill="none" stroke-linecap="round" />`}
    <text x="60" y="62" text-anchor="middle" font-size="20" font-weight="600">${num(v, Number(o.decimals ?? 1))}</text>
    <text x="60" y="78" text-anchor="middle" font-size="10" opacity="0.7">${o.unit || ''}</text>
    <text x="26" y="98" text-anchor="middle" font-size="8" opacity="0.6">${o.min ?? 0}</text>
    <text x="94" y="98" text-anchor="middle" font-size="8" opacity="0.6">${o.max ?? 100}</text>
  </svg>`;
}
