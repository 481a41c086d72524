// MQTT explorer: watch the messages on a topic filter live, and publish.
import { useEffect, useRef, useState } from 'preact/hooks';
import { html } from '../lib/html.js';
import { api, query } from '../lib/api.js';
import { subscribe } from '../lib/stream.js';
import { Empty, ErrorBox, Field } from '../lib/ui.js';

const MAX = 500;

function pretty(m) {
  if (m.encoding === 'base64') return `(binary, base64) ${m.payload}`;
  try {
    const v = JSON.parse(m.payload);
    if (v !== null && typeof v === 'object') return JSON.stringify(v);
  } catch { /* text */ }
  return m.payload === '' ? '(empty)' : m.payload;
}

function Publish() {
  const [f, setF] = useState({ topic: '', payload: '', qos: 0, retain: false });
  const [msg, setMsg] = useState(null);
  const submit = async (e) => {
    e.preventDefault();
    setMsg(null);
    try {
      await api.post('/mqtt/publish', f);
      setMsg({ ok: true, text: `Published to ${f.topic}.` });
    } catch (e2) {
      setMsg({ ok: false, text: e2.message });
    }
  };
  return html`<details class="card"><summary><strong>Publish a message</strong></summary>
    <form onSubmit=${submit}>
      <div class="cols">
        <${Field} label="Topic"><input required value=${f.topic} onInput=${(e) => setF({ ...f, topic: e.target.value })} placeholder="cmd/lamp-1/power" /></${Field}>
        <${Field} label="Payload"><input value=${f.payload} onInput=${(e) => setF({ ...f, payload: e.target.value })} placeholder='{"on": true}' /></${Field}>
      </div>
      <div class="form-row">
        <label class="inline">QoS <select value=${f.qos} onChange=${(e) => setF({ ...f, qos: Number(e.target.value) })}>${[0, 1, 2].map((q) => html`<option value=${q}>${q}</option>`)}</select></label>
        <label class="inline"><input type="checkbox" checked=${f.retain} onChange=${(e) => setF({ ...f, retain: e.target.checked })} /> retained</label>
        <button type="submit" class="primary">Publish</button>
      </div>
      ${msg && (msg.ok ? html`<p class="ok-text" role="status">${msg.text}</p>` : html`<${ErrorBox} error=${msg.text} />`)}
    </form></details>`;
}

export default function Explorer() {
  const [input, setInput] = useState(sessionStorage.getItem('perch.explorer') || '#');
  const [filter, setFilter] = useState('');
  const [state, setState] = useState({ state: '', message: '' });
  const [paused, setPaused] = useState(false);
  const [, setTick] = useState(0);
  const msgs = useRef([]);
  const dropped = useRef(0);
  useEffect(() => {
    if (!filter) return;
    msgs.current = [];
    let timer = 0;
    const unsub = subscribe('/mqtt/stream' + query({ filter }), {
      data: (m) => {
        if (typeof m.dropped === 'number') return;
        msgs.current.unshift(m);
        if (msgs.current.length > MAX) msgs.current.length = MAX;
        if (!timer) timer = setTimeout(() => { timer = 0; setTick((t) => t + 1); }, 100);
      },
      state: (s, message) => setState({ state: s, message }),
    });
    return () => { clearTimeout(timer); unsub(); };
  }, [filter]);
  const frozen = useRef([]);
  if (!paused) frozen.current = msgs.current;
  const start = (e) => {
    e.preventDefault();
    sessionStorage.setItem('perch.explorer', input.trim());
    setFilter(input.trim());
    setPaused(false);
    dropped.current = 0;
  };
  const list = paused ? frozen.current : msgs.current;
  return html`
    <h1>MQTT explorer</h1>
    <form class="form-row" onSubmit=${start}>
      <${Field} label="Topic filter" hint="+ matches one level, # the rest: sensors/+/env, sensors/#"><input value=${input} onInput=${(e) => setInput(e.target.value)} required /></${Field}>
      <button type="submit" class="primary">${filter && filter === input.trim() ? 'Restart' : 'Watch'}</button>
      ${filter && html`<button type="button" onClick=${() => setFilter('')}>Stop</button>
        <button type="button" aria-pressed=${paused} onClick=${() => setPaused(!paused)}>${paused ? 'Resume' : 'Pause'}</button>
        <button type="button" onClick=${() => { msgs.current = []; setTick((t) => t + 1); }}>Clear</button>`}
    </form>
    ${filter && html`<p class="hint" aria-live="polite">${state.state === 'live' ? `Watching ${filter}: ${msgs.current.length} message${msgs.current.length === 1 ? '' : 's'} (the newest ${MAX} are kept).` : state.state === 'connecting' ? 'Connecting…' : ''}</p>`}
    ${state.state === 'error' && filter && html`<${ErrorBox} error=${state.message} />`}
    ${!filter ? html`<${Empty}>Enter a topic filter and choose Watch to see messages as they are published (retained ones first).</${Empty}>`
      : list.length === 0 ? html`<${Empty}>No messages on <code>${filter}</code> yet.</${Empty}>`
      : html`<div class="card messages"><ul>${list.map((m) => html`<li>
          <span class="msg-meta">${new Date(m.ts).toLocaleTimeString()} · QoS ${m.qos}${m.retain ? ' · retained' : ''}</span>
          <span class="msg-topic">${m.topic}</span> ${pretty(m)}</li>`)}</ul></div>`}
    <${Publish} />`;
}
