// TimeChart wraps uPlot: time on x (epoch ms in, seconds for uPlot), one
// line per series, resized with its box. Live users append points and call
// the handle's setData instead of re-rendering.
import uPlot from 'uplot';
import { useEffect, useRef } from 'preact/hooks';
import { html } from './html.js';

export const palette = ['#2a9d8f', '#e76f51', '#457b9d', '#e9c46a', '#8e5ea2', '#f4a261', '#264653', '#d62828'];

function options(el, labels, height, units) {
  const fg = getComputedStyle(el).color;
  const grid = { stroke: 'rgba(128,128,128,0.18)', width: 1 };
  const axis = { stroke: fg, grid, ticks: grid };
  return {
    width: Math.max(el.clientWidth, 100),
    height,
    legend: { live: true },
    cursor: { drag: { x: true, y: false } },
    scales: { x: { time: true } },
    axes: [axis, { ...axis, size: 56, values: (u, ticks) => ticks.map((v) => v + (units ? ' ' + units : '')) }],
    series: [{}, ...labels.map((label, i) => ({
      label, stroke: palette[i % palette.length], width: 1.5, spanGaps: true, points: { show: false },
    }))],
  };
}

/**
 * TimeChart draws data = [ts ms[], ...values[]] with labels. onReady(handle)
 * gets {setData(data)} for live updates without a render.
 */
export function TimeChart({ labels, data, height = 260, units = '', onReady }) {
  const box = useRef();
  const plot = useRef();
  const key = labels.join('\u0000') + '|' + height + '|' + units;
  useEffect(() => {
    const el = box.current;
    const u = new uPlot(options(el, labels, height, units), toSeconds(data), el);
    plot.current = u;
    onReady?.({ setData: (d) => u.setData(toSeconds(d)) });
    const ro = new ResizeObserver(() => u.setSize({ width: Math.max(el.clientWidth, 100), height }));
    ro.observe(el);
    return () => { ro.disconnect(); u.destroy(); plot.current = null; };
  }, [key]);
  useEffect(() => { plot.current?.setData(toSeconds(data)); }, [data]);
  // data-points is how many points are drawn: a hook for the browser tests.
  return html`<div class="chart" ref=${box} data-points=${data[0].length} />`;
}

function toSeconds(data) {
  return [data[0].map((t) => t / 1000), ...data.slice(1)];
}

/**
 * align turns records [{ts, device, ...fields}] into uPlot columns for the
 * given fields: one series per field (per field and device when several
 * devices are present).
 */
export function align(records, fields) {
  const devices = [...new Set(records.map((r) => r.device))];
  const keys = [];
  for (const f of fields) {
    if (devices.length <= 1) keys.push({ f, d: null, label: f });
    else for (const d of devices) keys.push({ f, d, label: `${f} · ${d}` });
  }
  const rows = new Map();
  for (const r of records) {
    let row = rows.get(r.ts);
    if (!row) rows.set(r.ts, (row = new Array(keys.length).fill(null)));
    keys.forEach((k, i) => {
      if ((k.d === null || k.d === r.device) && typeof r[k.f] === 'number') row[i] = r[k.f];
    });
  }
  const ts = [...rows.keys()].sort((a, b) => a - b);
  const cols = keys.map((_, i) => ts.map((t) => rows.get(t)[i]));
  return { labels: keys.map((k) => k.label), data: [ts, ...cols] };
}

/** fieldsOf lists the value fields of records (not ts and device). */
export function fieldsOf(records) {
  const set = new Set();
  for (const r of records) for (const k of Object.keys(r)) if (k !== 'ts' && k !== 'device') set.add(k);
  return [...set].sort();
}

const niceSteps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800]
  .map((s) => s * 1000);

/**
 * autoEvery is the aggregation interval (as the API takes it, e.g. "10m")
 * that draws a span of spanMs in about points points: the shortest round
 * interval giving at most a quarter more. A chart of 7 days then reads
 * about a thousand averages instead of 604,800 raw points at 1 Hz.
 */
export function autoEvery(spanMs, points) {
  const step = niceSteps.find((s) => spanMs / s <= points * 1.25) || niceSteps[niceSteps.length - 1];
  return step % 86400e3 === 0 ? step / 86400e3 + 'd' : step % 3600e3 === 0 ? step / 3600e3 + 'h' : step % 60e3 === 0 ? step / 60e3 + 'm' : step / 1e3 + 's';
}

/** every picks an aggregation interval that gives at most ~1000 points. */
export function pickEvery(spanMs) {
  const steps = [['30s', 30e3], ['5m', 300e3], ['15m', 900e3], ['1h', 3600e3], ['6h', 21600e3], ['1d', 86400e3], ['1w', 604800e3]];
  if (spanMs <= 3 * 3600e3) return '';
  for (const [name, ms] of steps) if (spanMs / ms <= 1000) return name;
  return '1w';
}
