// Switch: shows the source's state and publishes the on or off payload.
import { useState } from 'preact/hooks';
import { html } from '../lib/html.js';
import { useFeed, numeric } from '../lib/live.js';
import { Toggle } from '../lib/ui.js';
import { mainField } from './status.js';
import { publish, publishTopic } from './publish.js';

/** isOn reads a record as on or off, comparing with the on payload first. */
export function isOn(rec, field, on) {
  if (!rec) return null;
  if (rec.raw !== undefined && String(rec.raw) === String(on)) return true;
  const v = rec[field] ?? numeric(rec.raw);
  return v === null || v === undefined ? null : v !== 0;
}

export default function Switch({ widget }) {
  const o = widget.options || {};
  const field = mainField(widget.source);
  const feed = useFeed(widget.source, { history: { latest: 1 }, max: 10 });
  const [pending, setPending] = useState(null);
  const [err, setErr] = useState('');
  const shown = isOn(feed.records[feed.records.length - 1], field, o.on ?? 'on');
  const checked = pending ?? shown ?? false;
  const topic = publishTopic(widget);
  const flip = async (v) => {
    setPending(v);
    setErr('');
    try {
      await publish(widget, v ? o.on ?? 'on' : o.off ?? 'off');
    } catch (e) {
      setErr(e.message);
    }
    setTimeout(() => setPending(null), 1500);
  };
  return html`<div class="slider">
    <div class="btn-row"><${Toggle} checked=${checked} label=${widget.title || 'switch'} disabled=${!topic} onChange=${flip} />
      <span>${checked ? 'on' : 'off'}${shown === null && pending === null ? ' (state unknown)' : ''}</span></div>
    ${!topic && html`<div class="widget-state bad">Set the topic to publish to in the widget's settings.</div>`}
    ${err && html`<div class="widget-state bad" role="alert">${err}</div>`}
    ${feed.state === 'error' && html`<div class="widget-state bad">${feed.message}</div>`}
  </div>`;
}
