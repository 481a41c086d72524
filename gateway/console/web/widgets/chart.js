// Chart: fields of a bucket over a live window (history, then appended
// live) or a historical range with aggregation; or a topic's live values.
// A range is always read aggregated, at the chosen interval or else at one
// sized to the chart (about a point per pixel: a thousand across the full
// width), never as every raw point (7 days at 1 Hz are 604,800).
import { html } from '../lib/html.js';
import { useFeed, sourceFields } from '../lib/live.js';
import { TimeChart, align, autoEvery, fieldsOf } from '../lib/chart.js';
import { FeedState } from './status.js';

const ms = { '1m': 60e3, '5m': 300e3, '15m': 900e3, '1h': 3600e3, '6h': 6 * 3600e3, '24h': 86400e3, '7d': 7 * 86400e3, '30d': 30 * 86400e3 };

export default function Chart({ widget }) {
  const o = widget.options || {};
  const src = widget.source;
  const live = o.mode !== 'history' || src.kind === 'topic';
  const window = ms[o.window] || ms['5m'];
  const range = o.range || '24h';
  // Points across the chart: a grid column is about 100 px wide.
  const points = Math.min(Math.max(widget.w * 100, 200), 1000);
  const feed = useFeed(src, live
    ? { history: { from: '-' + (o.window || '5m'), to: 'now' }, live: true, keep: window, max: 50000 }
    : { history: { from: '-' + range, to: 'now', agg: o.agg || 'avg', every: o.every || autoEvery(ms[range] || ms['24h'], points) }, live: false, max: Infinity });
  let fields = sourceFields(src);
  if (!fields.length) fields = fieldsOf(feed.records.slice(-200));
  const { labels, data } = align(feed.records, fields);
  const state = html`<${FeedState} feed=${feed} empty=${live ? 'No points in this window yet: waiting for new ones.' : 'No points in this range.'} />`;
  if (!labels.length || !data[0].length) return state;
  return html`<${TimeChart} labels=${labels} data=${data} height=${Math.max(widget.h * 88 - 90, 80)} />`;
}
