// The widget editor: type, title, data source and the type's options.
import { useState } from 'preact/hooks';
import { html } from '../lib/html.js';
import { api, enc, query } from '../lib/api.js';
import { ErrorBox, Field, Modal, useLoad } from '../lib/ui.js';
import { fieldsOf } from '../lib/chart.js';
import { types } from '../widgets/index.js';

const windows = ['1m', '5m', '15m', '1h', '6h', '24h'];
const ranges = ['1h', '6h', '24h', '7d', '30d'];

function Options({ type, o, set }) {
  const inp = (k, label, extra = {}) => html`<${Field} label=${label}><input value=${o[k] ?? ''} type=${extra.type || 'text'} step="any"
    placeholder=${extra.placeholder} onInput=${(e) => set(k, extra.type === 'number' ? (e.target.value === '' ? '' : Number(e.target.value)) : e.target.value)} /></${Field}>`;
  switch (type) {
    case 'chart':
      return html`<div class="cols">
        <${Field} label="Shows"><select value=${o.mode} onChange=${(e) => set('mode', e.target.value)}>
          <option value="live">a live window</option><option value="history">a past range</option></select></${Field}>
        ${o.mode !== 'history' ? html`<${Field} label="Window"><select value=${o.window} onChange=${(e) => set('window', e.target.value)}>
            ${windows.map((w) => html`<option value=${w}>last ${w}</option>`)}</select></${Field}>`
          : html`<${Field} label="Range"><select value=${o.range} onChange=${(e) => set('range', e.target.value)}>
            ${ranges.map((w) => html`<option value=${w}>last ${w}</option>`)}</select></${Field}>
            <${Field} label="Aggregate"><select value=${o.agg} onChange=${(e) => set('agg', e.target.value)}>
              ${['avg', 'min', 'max', 'sum', 'count', 'first', 'last'].map((a) => html`<option>${a}</option>`)}</select></${Field}>
            ${inp('every', 'Every (empty: sized to the chart)', { placeholder: 'auto' })}`}
      </div>`;
    case 'gauge': case 'donut':
      return html`<div class="cols">${inp('min', 'Min', { type: 'number' })}${inp('max', 'Max', { type: 'number' })}
        ${inp('unit', 'Unit')}${inp('decimals', 'Decimals', { type: 'number' })}</div>`;
    case 'value':
      return html`<div class="cols">${inp('unit', 'Unit')}${inp('decimals', 'Decimals', { type: 'number' })}</div>`;
    case 'led': {
      const text = (o.thresholds || []).map((t) => `${t.value}:${t.color}`).join(', ');
      return html`<${Field} label="Thresholds" hint="value:colour pairs; the LED takes the colour of the highest value reached, and is off below all (e.g. 0:#2fb45a, 30:#e9c46a, 40:#d62828).">
        <input value=${text} onChange=${(e) => set('thresholds', e.target.value.split(',').map((p) => p.trim()).filter(Boolean)
          .map((p) => { const [v, c] = p.split(':'); return { value: Number(v), color: (c || '').trim() || '#2fb45a' }; })
          .filter((t) => Number.isFinite(t.value)))} /></${Field}>`;
    }
    case 'switch':
      return html`${inp('topic', 'Publish to topic', { placeholder: 'cmd/lamp-1/power' })}
        <div class="cols">${inp('on', 'On payload')}${inp('off', 'Off payload')}</div>
        <div class="cols"><${Field} label="QoS"><select value=${o.qos} onChange=${(e) => set('qos', Number(e.target.value))}>${[0, 1, 2].map((q) => html`<option value=${q}>${q}</option>`)}</select></${Field}>
        <label class="inline"><input type="checkbox" checked=${o.retain !== false} onChange=${(e) => set('retain', e.target.checked)} /> retained</label></div>`;
    case 'slider':
      return html`${inp('topic', 'Publish to topic', { placeholder: 'cmd/fan-1/speed' })}
        ${inp('payload', 'Payload ({value} is the number)', { placeholder: '{"speed": {value}}' })}
        <div class="cols">${inp('min', 'Min', { type: 'number' })}${inp('max', 'Max', { type: 'number' })}${inp('step', 'Step', { type: 'number' })}</div>
        <div class="cols"><${Field} label="QoS"><select value=${o.qos} onChange=${(e) => set('qos', Number(e.target.value))}>${[0, 1, 2].map((q) => html`<option value=${q}>${q}</option>`)}</select></${Field}>
        <label class="inline"><input type="checkbox" checked=${o.retain !== false} onChange=${(e) => set('retain', e.target.checked)} /> retained</label></div>`;
    case 'table':
      return inp('rows', 'Rows', { type: 'number' });
    case 'text':
      return html`<${Field} label="Text"><textarea rows="4" value=${o.text} onInput=${(e) => set('text', e.target.value)} /></${Field}>`;
  }
  return null;
}

function BucketFields({ bucket, datalist }) {
  const recent = useLoad(() => (bucket ? api.get(`/buckets/${enc(bucket)}/data` + query({ sort: 'desc', limit: 100 })) : Promise.resolve([])), [bucket]);
  const fields = recent.data ? fieldsOf(recent.data) : [];
  return html`<datalist id=${datalist}>${fields.map((f) => html`<option value=${f} />`)}</datalist>
    ${bucket && recent.data && html`<span class="hint">${fields.length ? `Fields: ${fields.join(', ')}` : 'This bucket has no points yet.'}</span>`}`;
}

export function WidgetForm({ widget, onSave, onClose }) {
  const [w, setW] = useState(() => structuredClone(widget));
  const [err, setErr] = useState(null);
  const buckets = useLoad(() => api.get('/buckets').catch(() => []), []);
  const src = w.source;
  const setType = (type) => setW({ ...w, type, options: { ...types[type].options },
    source: type === 'text' ? { kind: 'none' } : src.kind === 'none' ? { kind: 'bucket', bucket: '', fields: [] } : src });
  const setSrc = (k, v) => setW({ ...w, source: { ...src, [k]: v } });
  const setKind = (kind) => setW({ ...w, source: kind === 'bucket' ? { kind, bucket: '', fields: [] } : kind === 'topic' ? { kind, topic: '', path: '' } : { kind } });
  const setOpt = (k, v) => setW({ ...w, options: { ...w.options, [k]: v } });
  const submit = async (e) => {
    e.preventDefault();
    setErr(null);
    const s = { ...src };
    if (s.kind === 'bucket') {
      s.fields = (typeof s.fields === 'string' ? s.fields.split(',') : s.fields || []).map((f) => f.trim()).filter(Boolean);
      if (!s.device) delete s.device;
    }
    if (s.kind === 'topic' && !s.path) delete s.path;
    try { await onSave({ ...w, source: s }); } catch (e2) { setErr(e2); }
  };
  const fieldsText = Array.isArray(src.fields) ? src.fields.join(', ') : src.fields || '';
  return html`<${Modal} title=${widget.title ? `Edit ${widget.title}` : 'Widget'} onClose=${onClose} wide>
    <form onSubmit=${submit}>
      <div class="cols">
        <${Field} label="Type"><select value=${w.type} onChange=${(e) => setType(e.target.value)}>
          ${Object.entries(types).map(([k, t]) => html`<option value=${k}>${t.label}</option>`)}</select></${Field}>
        <${Field} label="Title" name=${'title'} error=${err}><input value=${w.title} maxlength="128" onInput=${(e) => setW({ ...w, title: e.target.value })} /></${Field}>
      </div>
      ${w.type !== 'text' && html`<fieldset class="plain"><legend>Data</legend>
        <div class="cols">
          <${Field} label="Source"><select value=${src.kind} onChange=${(e) => setKind(e.target.value)}>
            <option value="bucket">a bucket (history and live)</option><option value="topic">a live MQTT topic</option></select></${Field}>
          ${src.kind === 'bucket' ? html`
            <${Field} label="Bucket"><select required value=${src.bucket} onChange=${(e) => setSrc('bucket', e.target.value)}>
              <option value="">choose…</option>${(buckets.data || []).map((b) => html`<option value=${b.id}>${b.name || b.id}${b.enabled ? '' : ' (disabled)'}</option>`)}</select></${Field}>`
          : html`<${Field} label="Topic filter" hint="e.g. sensors/greenhouse-1/env"><input required value=${src.topic} onInput=${(e) => setSrc('topic', e.target.value)} /></${Field}>`}
        </div>
        ${src.kind === 'bucket' ? html`<div class="cols">
            <${Field} label=${w.type === 'chart' || w.type === 'table' ? 'Fields (comma-separated; empty: all)' : 'Field'}>
              <input list="wf-fields" value=${fieldsText} onInput=${(e) => setSrc('fields', e.target.value)} placeholder="temp" /></${Field}>
            <${Field} label="Device (optional)"><input value=${src.device || ''} onInput=${(e) => setSrc('device', e.target.value)} placeholder="all devices" /></${Field}>
          </div><${BucketFields} bucket=${src.bucket} datalist="wf-fields" />`
        : html`<${Field} label="JSON path (optional)" hint="A value inside a JSON payload, e.g. env.t or batt.0; empty: the whole payload.">
            <input value=${src.path || ''} onInput=${(e) => setSrc('path', e.target.value)} /></${Field}>`}
      </fieldset>`}
      <fieldset class="plain"><legend>Options</legend><${Options} type=${w.type} o=${w.options} set=${setOpt} /></fieldset>
      <${ErrorBox} error=${err} />
      <div class="actions"><button type="button" onClick=${onClose}>Cancel</button><button type="submit" class="primary">Save widget</button></div>
    </form>
  </${Modal}>`;
}
