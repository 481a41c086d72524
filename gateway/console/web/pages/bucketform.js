// The form that adds a bucket or changes its settings.
import { useState } from 'preact/hooks';
import { html } from '../lib/html.js';
import { api, enc } from '../lib/api.js';
import { ErrorBox, Field, Modal } from '../lib/ui.js';

const known = ['id', 'name', 'description', 'topic', 'retention', 'resolution'];

export function BucketForm({ bucket, onSaved, onClose }) {
  const isNew = !bucket;
  const [f, setF] = useState({
    id: '', name: bucket?.name || '', description: bucket?.description || '', topic: bucket?.topic ?? '',
    retention: bucket?.retention || '365d', resolution: bucket?.resolution || '1ms',
  });
  const [err, setErr] = useState(null);
  const [busy, setBusy] = useState(false);
  const set = (k) => (e) => setF({ ...f, [k]: e.target.value });
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    setErr(null);
    const { id, ...rest } = f;
    try {
      const b = isNew ? await api.post('/buckets', { id: id.trim(), ...rest }) : await api.patch('/buckets/' + enc(bucket.id), rest);
      onSaved(b);
    } catch (e2) {
      setErr(e2);
      setBusy(false);
    }
  };
  return html`<${Modal} title=${isNew ? 'Add a bucket' : `Settings of ${bucket.id}`} onClose=${onClose}>
    <form onSubmit=${submit}>
      ${isNew && html`<${Field} label="Bucket id" name="id" error=${err} hint="Letters, digits, '_' and '-'.">
        <input required maxlength="64" pattern="[A-Za-z0-9_\\-]+" value=${f.id} onInput=${set('id')} autofocus /></${Field}>`}
      <${Field} label="Name" name="name" error=${err}><input value=${f.name} onInput=${set('name')} /></${Field}>
      <${Field} label="Description" name="description" error=${err}><input value=${f.description} onInput=${set('description')} /></${Field}>
      <${Field} label="Topic filter" name="topic" error=${err} hint="e.g. sensors/+/env; empty: only API writes.">
        <input value=${f.topic} onInput=${set('topic')} placeholder="sensors/#" /></${Field}>
      <div class="cols">
        <${Field} label="Retention" name="retention" error=${err} hint="30d, 2w, 12h; 0 keeps points forever.">
          <input value=${f.retention} onInput=${set('retention')} /></${Field}>
        <${Field} label="Resolution" name="resolution" error=${err} hint="1ms to 1h; timestamps are rounded down to it.">
          <input value=${f.resolution} onInput=${set('resolution')} /></${Field}>
      </div>
      ${err && !known.includes(err.field) && html`<${ErrorBox} error=${err} />`}
      <div class="actions"><button type="button" onClick=${onClose}>Cancel</button>
        <button type="submit" class="primary" disabled=${busy}>${isNew ? 'Add bucket' : 'Save'}</button></div>
    </form>
  </${Modal}>`;
}
