// A bucket's chart: chosen fields over a chosen range, averaged per
// interval when the range is long.
import { useState } from 'preact/hooks';
import { html } from '../lib/html.js';
import { api, enc, query } from '../lib/api.js';
import { Empty, ErrorBox, Loading, useLoad } from '../lib/ui.js';
import { TimeChart, align, fieldsOf, pickEvery } from '../lib/chart.js';
import { RangePicker, apiRange } from './range.js';

export function BucketChart({ bucket }) {
  const [range, setRange] = useState({ preset: '24h', from: '', to: '' });
  const [chosen, setChosen] = useState(null);
  const [device, setDevice] = useState('');
  // The fields and devices, from the newest records.
  const recent = useLoad(() => api.get(`/buckets/${enc(bucket.id)}/data` + query({ sort: 'desc', limit: 200 })), [bucket.id]);
  const fields = recent.data ? fieldsOf(recent.data) : [];
  const devices = recent.data ? [...new Set(recent.data.map((r) => r.device))].sort() : [];
  const selected = chosen ?? fields.slice(0, 1);
  const r = apiRange(range, bucket.stats);
  const every = pickEvery(r.span);
  const res = useLoad(async () => {
    if (!selected.length) return null;
    const recs = await api.get(`/buckets/${enc(bucket.id)}/data` + query({
      from: r.from, to: r.to, fields: selected.join(','), device, agg: every ? 'avg' : '', every,
    }));
    return align(recs, selected);
  }, [bucket.id, selected.join(','), r.from, r.to, device, every]);
  const toggle = (f) => setChosen(selected.includes(f) ? selected.filter((x) => x !== f) : [...selected, f]);
  return html`<section class="card">
    <div class="card-head"><h2>Chart</h2>
      <${RangePicker} value=${range} onChange=${setRange} />
      ${devices.length > 1 && html`<label class="inline">device <select value=${device} onChange=${(e) => setDevice(e.target.value)}>
        <option value="">all</option>${devices.map((d) => html`<option>${d}</option>`)}</select></label>`}
    </div>
    ${fields.length > 0 && html`<fieldset class="chips"><legend class="sr">Fields</legend>${fields.map((f) => html`
      <label class="chip"><input type="checkbox" checked=${selected.includes(f)} onChange=${() => toggle(f)} /> ${f}</label>`)}</fieldset>`}
    <${ErrorBox} error=${recent.error || res.error} />
    ${recent.data && fields.length === 0 ? html`<${Empty}>Nothing to chart yet: this bucket has no points.</${Empty}>`
      : !selected.length ? html`<${Empty}>Choose a field to chart.</${Empty}>`
      : !res.data ? !res.error && html`<${Loading} />`
      : res.data.data[0].length === 0 ? html`<${Empty}>No points in this range.</${Empty}>`
      : html`<${TimeChart} labels=${res.data.labels} data=${res.data.data} />
        <p class="hint">${res.data.data[0].length} point${res.data.data[0].length === 1 ? '' : 's'}${every ? `, averaged per ${every}` : ''}${res.data.data[0].length === 1 ? ': a single point draws no line; choose a shorter range to see more' : ''}. Drag across the chart to zoom, double-click to reset.</p>`}
  </section>`;
}
