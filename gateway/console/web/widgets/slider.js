// Slider: shows the source's value and publishes the chosen one, in the
// payload template ({value} stands for the number).
import { useState } from 'preact/hooks';
import { html } from '../lib/html.js';
import { useFeed, latestValue } from '../lib/live.js';
import { num } from '../lib/format.js';
import { mainField } from './status.js';
import { publish, publishTopic } from './publish.js';

export default function Slider({ widget }) {
  const o = widget.options || {};
  const field = mainField(widget.source);
  const feed = useFeed(widget.source, { history: { latest: 1 }, max: 10 });
  const [moving, setMoving] = useState(null);
  const [err, setErr] = useState('');
  const current = latestValue(feed.records, field);
  const value = moving ?? current ?? Number(o.min ?? 0);
  const topic = publishTopic(widget);
  const send = async (v) => {
    setErr('');
    try {
      await publish(widget, String(o.payload ?? '{value}').replaceAll('{value}', String(v)));
    } catch (e) {
      setErr(e.message);
    }
    setTimeout(() => setMoving(null), 1500);
  };
  return html`<div class="slider">
    <div class="btn-row"><strong>${num(value)}</strong> ${o.unit || ''}
      ${current === null && html`<span class="widget-state">(no value received yet)</span>`}</div>
    <input type="range" min=${o.min ?? 0} max=${o.max ?? 100} step=${o.step ?? 1} value=${value} disabled=${!topic}
      aria-label=${widget.title || 'slider'} onInput=${(e) => setMoving(Number(e.target.value))}
      onChange=${(e) => send(Number(e.target.value))} />
    ${!topic && html`<div class="widget-state bad">Set the topic to publish to in the widget's settings.</div>`}
    ${err && html`<div class="widget-state bad" role="alert">${err}</div>`}
  </div>`;
}
