// A time range picker: presets (last 15 minutes … 30 days, everything) or
// a custom from/to. Its value is {preset, from, to}, from/to as the API
// takes them (relative like -1h, or epoch ms).
import { html } from '../lib/html.js';
import { localInput } from '../lib/format.js';

export const presets = [
  ['15m', 'last 15 minutes', 15 * 60e3], ['1h', 'last hour', 3600e3], ['6h', 'last 6 hours', 6 * 3600e3],
  ['24h', 'last 24 hours', 86400e3], ['7d', 'last 7 days', 7 * 86400e3], ['30d', 'last 30 days', 30 * 86400e3],
  ['all', 'everything', 0], ['custom', 'custom range…', 0],
];

/** apiRange turns a picker value into API from/to parameters and a span in ms. */
export function apiRange(v, bucketStats) {
  if (v.preset === 'custom') {
    const from = v.from ? new Date(v.from).getTime() : 0;
    const to = v.to ? new Date(v.to).getTime() : Date.now();
    return { from: String(from), to: String(to), span: to - from };
  }
  if (v.preset === 'all') {
    const first = bucketStats?.first_ts ?? 0, last = bucketStats?.last_ts ?? Date.now();
    return { from: '', to: '', span: Math.max(last - first, 0) };
  }
  const p = presets.find((x) => x[0] === v.preset);
  return { from: '-' + v.preset, to: 'now', span: p[2] };
}

export function RangePicker({ value, onChange, label = 'Range', allowAll = true }) {
  const set = (k) => (e) => onChange({ ...value, [k]: e.target.value });
  const setPreset = (e) => {
    const preset = e.target.value;
    const now = Date.now();
    onChange(preset === 'custom' && !value.from
      ? { preset, from: localInput(now - 86400e3), to: localInput(now) }
      : { ...value, preset });
  };
  return html`<div class="range">
    <label class="inline">${label} <select value=${value.preset} onChange=${setPreset}>
      ${presets.filter((p) => allowAll || p[0] !== 'all').map(([k, name]) => html`<option value=${k}>${name}</option>`)}
    </select></label>
    ${value.preset === 'custom' && html`
      <label class="inline">from <input type="datetime-local" value=${value.from} onChange=${set('from')} /></label>
      <label class="inline">to <input type="datetime-local" value=${value.to} onChange=${set('to')} /></label>`}
  </div>`;
}
