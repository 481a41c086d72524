// Devices: live status, add, edit, enable/disable, credentials, delete.
import { useState } from 'preact/hooks';
import { html } from '../lib/html.js';
import { api, enc } from '../lib/api.js';
import { Confirm, Empty, ErrorBox, Field, IconButton, Loading, Modal, Secret, Toggle, useLoad, Icon } from '../lib/ui.js';
import { ago, num } from '../lib/format.js';
import { ConnectPanel } from './connect.js';

const lines = (s) => s.split('\n').map((l) => l.trim()).filter(Boolean);

function DeviceForm({ device, onSaved, onClose }) {
  const isNew = !device;
  const [f, setF] = useState({
    id: device?.id || '', name: device?.name || '', description: device?.description || '',
    publish: (device?.acl.publish || ['#']).join('\n'), subscribe: (device?.acl.subscribe || ['#']).join('\n'),
    credentials: '',
  });
  const [err, setErr] = useState(null);
  const [busy, setBusy] = useState(false);
  const set = (k) => (e) => setF({ ...f, [k]: e.target.value });
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    setErr(null);
    const body = { name: f.name, description: f.description, acl: { publish: lines(f.publish), subscribe: lines(f.subscribe) } };
    try {
      const d = isNew
        ? await api.post('/devices', { id: f.id.trim(), ...body, ...(f.credentials ? { credentials: f.credentials } : {}) })
        : await api.patch('/devices/' + enc(device.id), body);
      onSaved(d);
    } catch (e2) {
      setErr(e2);
      setBusy(false);
    }
  };
  return html`<${Modal} title=${isNew ? 'Add a device' : `Edit ${device.id}`} onClose=${onClose}>
    <form onSubmit=${submit}>
      ${isNew && html`<${Field} label="Device id" name="id" error=${err} hint="Its MQTT client id: letters, digits, '_' and '-'.">
        <input required maxlength="64" pattern="[A-Za-z0-9_\\-]+" value=${f.id} onInput=${set('id')} autofocus /></${Field}>`}
      <${Field} label="Name" name="name" error=${err}><input value=${f.name} onInput=${set('name')} /></${Field}>
      <${Field} label="Description" name="description" error=${err}><textarea rows="2" value=${f.description} onInput=${set('description')} /></${Field}>
      <div class="cols">
        <${Field} label="May publish to" name="acl" error=${err} hint="Topic filters, one a line; %c is the device id."><textarea rows="3" value=${f.publish} onInput=${set('publish')} /></${Field}>
        <${Field} label="May subscribe to" name="acl" error=${err} hint="Topic filters, one a line."><textarea rows="3" value=${f.subscribe} onInput=${set('subscribe')} /></${Field}>
      </div>
      ${isNew && html`<${Field} label="Credentials (optional)" name="credentials" error=${err} hint="Left empty, strong credentials are generated. A chosen one needs at least 8 characters.">
        <input type="password" autocomplete="new-password" value=${f.credentials} onInput=${set('credentials')} /></${Field}>`}
      ${err && !err.field && html`<${ErrorBox} error=${err} />`}
      ${err && err.field && !['id', 'name', 'description', 'acl', 'credentials'].includes(err.field) && html`<${ErrorBox} error=${err} />`}
      <div class="actions"><button type="button" onClick=${onClose}>Cancel</button>
        <button type="submit" class="primary" disabled=${busy}>${isNew ? 'Add device' : 'Save'}</button></div>
    </form>
  </${Modal}>`;
}

function Created({ device, credentials, status, onClose, title }) {
  return html`<${Modal} title=${title} onClose=${onClose} wide>
    <${Secret} label=${`Credentials of ${device.id}`} value=${credentials}
      note="Shown only now: copy them into the device's firmware. The gateway keeps only a hash." />
    <${ConnectPanel} device=${device} status=${status} credentials=${credentials} />
    <div class="actions"><button type="button" class="primary" onClick=${onClose}>Done</button></div>
  </${Modal}>`;
}

function StatusCell({ d }) {
  const s = d.status;
  if (!d.enabled) return html`<span class="dot off" /> disabled`;
  if (s.connected) {
    return html`<span class="dot on" /> online <span class="hint">since ${ago(s.since).replace(' ago', '')}</span>`;
  }
  return html`<span class="dot" /> offline <span class="hint">seen ${ago(s.last_seen)}</span>`;
}

export default function Devices() {
  const devices = useLoad(() => api.get('/devices'), [], 2000);
  const status = useLoad(() => api.get('/status'), []);
  const [dialog, setDialog] = useState(null);
  const close = () => setDialog(null);
  const [err, setErr] = useState(null);
  const setEnabled = async (d, enabled) => {
    setErr(null);
    try { await api.patch('/devices/' + enc(d.id), { enabled }); devices.reload(); } catch (e) { setErr(e); }
  };
  const rotate = (d) => setDialog(html`<${Confirm} title=${`New credentials for ${d.id}`} action="Make new credentials"
    onClose=${close} onConfirm=${async () => {
      const r = await api.post('/devices/' + enc(d.id) + '/credentials');
      setTimeout(() => setDialog(html`<${Created} title="New credentials" device=${d} credentials=${r.credentials} status=${status.data} onClose=${close} />`));
    }}>
    <p>The old credentials stop working at once and <strong>${d.id}</strong> is disconnected if it is online.</p></${Confirm}>`);
  const list = devices.data;
  return html`
    <div class="page-head"><h1>Devices</h1>
      <button type="button" class="primary" onClick=${() => setDialog(html`<${DeviceForm} onClose=${close}
        onSaved=${(d) => { devices.reload(); setDialog(html`<${Created} title="Device added" device=${d} credentials=${d.credentials} status=${status.data} onClose=${close} />`); }} />`)}>
        <${Icon} name="plus" /> Add device</button></div>
    <${ErrorBox} error=${devices.error || err} onRetry=${devices.error && devices.reload} />
    ${!list ? !devices.error && html`<${Loading} />` : list.length === 0 ? html`<${Empty}>
      <p>No devices yet. Add one to get its credentials and the settings for its firmware.</p></${Empty}>` : html`
    <div class="table-wrap"><table class="devices">
      <thead><tr><th>Status</th><th>Device</th><th class="hide-s">Remote address</th><th class="num hide-s">Messages in / out</th><th>Enabled</th><th><span class="sr">Actions</span></th></tr></thead>
      <tbody>${list.map((d) => html`<tr key=${d.id}>
        <td><${StatusCell} d=${d} /></td>
        <td><strong>${d.id}</strong>${d.name && html`<br /><span class="hint">${d.name}</span>`}</td>
        <td class="hide-s">${d.status.remote_addr ? html`<code>${d.status.remote_addr}</code>` : '–'}</td>
        <td class="num hide-s">${num(d.status.messages_in)} / ${num(d.status.messages_out)}</td>
        <td><${Toggle} checked=${d.enabled} label=${`${d.id} enabled`} onChange=${(v) => setEnabled(d, v)} /></td>
        <td class="row-actions">
          <button type="button" class="small" onClick=${() => setDialog(html`<${Modal} title=${`Connect ${d.id}`} onClose=${close} wide>
            <${ConnectPanel} device=${d} status=${status.data} /></${Modal}>`)}>Connect</button>
          <${IconButton} icon="edit" label=${`Edit ${d.id}`} onClick=${() => setDialog(html`<${DeviceForm} device=${d} onClose=${close} onSaved=${() => { devices.reload(); close(); }} />`)} />
          <${IconButton} icon="refresh" label=${`New credentials for ${d.id}`} onClick=${() => rotate(d)} />
          <${IconButton} icon="trash" label=${`Delete ${d.id}`} class="danger" onClick=${() => setDialog(html`<${Confirm}
            title=${`Delete ${d.id}?`} onClose=${close} onConfirm=${async () => { await api.del('/devices/' + enc(d.id)); devices.reload(); }}>
            <p>The device <strong>${d.id}</strong> is deleted and disconnected; its credentials stop working. Bucket data it sent stays.</p></${Confirm}>`)} />
        </td>
      </tr>`)}</tbody>
    </table></div>
    <p class="hint">${list.length} device${list.length === 1 ? '' : 's'}, ${list.filter((d) => d.status.connected).length} online; the status refreshes every 2 s.</p>`}
    ${dialog}`;
}
