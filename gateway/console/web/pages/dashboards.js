// Dashboards: the list; create, rename, delete.
import { useState } from 'preact/hooks';
import { html } from '../lib/html.js';
import { api, enc } from '../lib/api.js';
import { Confirm, Empty, ErrorBox, Field, Icon, IconButton, Loading, Modal, useLoad } from '../lib/ui.js';
import { time } from '../lib/format.js';

/** slug makes a dashboard id from its name. */
function slug(name) {
  const s = name.toLowerCase().normalize('NFKD').replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 48);
  return (s || 'dashboard') + '-' + Math.random().toString(36).slice(2, 6);
}

export function NameForm({ title, initial = '', action, onSubmit, onClose }) {
  const [name, setName] = useState(initial);
  const [err, setErr] = useState(null);
  const submit = async (e) => {
    e.preventDefault();
    try { await onSubmit(name.trim()); } catch (e2) { setErr(e2); }
  };
  return html`<${Modal} title=${title} onClose=${onClose}><form onSubmit=${submit}>
    <${Field} label="Name" name="name" error=${err}><input required maxlength="128" value=${name} onInput=${(e) => setName(e.target.value)} autofocus /></${Field}>
    ${err && err.field !== 'name' && html`<${ErrorBox} error=${err} />`}
    <div class="actions"><button type="button" onClick=${onClose}>Cancel</button><button type="submit" class="primary">${action}</button></div>
  </form></${Modal}>`;
}

export default function Dashboards() {
  const list = useLoad(() => api.get('/dashboards'), []);
  const [dialog, setDialog] = useState(null);
  const close = () => setDialog(null);
  const create = () => setDialog(html`<${NameForm} title="New dashboard" action="Create" onClose=${close}
    onSubmit=${async (name) => { const d = await api.post('/dashboards', { id: slug(name), name, widgets: [] }); location.hash = '#/dashboards/' + enc(d.id); }} />`);
  const rename = (d) => setDialog(html`<${NameForm} title="Rename dashboard" action="Rename" initial=${d.name} onClose=${close}
    onSubmit=${async (name) => { await api.put('/dashboards/' + enc(d.id), { name, widgets: d.widgets }); close(); list.reload(); }} />`);
  const remove = (d) => setDialog(html`<${Confirm} title=${`Delete ${d.name || d.id}?`} onClose=${close}
    onConfirm=${async () => { await api.del('/dashboards/' + enc(d.id)); list.reload(); }}>
    <p>The dashboard and its ${d.widgets.length} widgets are deleted; the data they show is not.</p></${Confirm}>`);
  const ds = list.data;
  return html`
    <div class="page-head"><h1>Dashboards</h1>
      <button type="button" class="primary" onClick=${create}><${Icon} name="plus" /> New dashboard</button></div>
    <${ErrorBox} error=${list.error} onRetry=${list.reload} />
    ${!ds ? !list.error && html`<${Loading} />` : ds.length === 0 ? html`<${Empty}>
      <p>No dashboards yet. Create one and add charts, gauges and switches fed by buckets or live MQTT topics.</p></${Empty}>` : html`
    <div class="table-wrap"><table>
      <thead><tr><th>Dashboard</th><th class="num">Widgets</th><th class="hide-s">Changed</th><th><span class="sr">Actions</span></th></tr></thead>
      <tbody>${ds.map((d) => html`<tr key=${d.id}>
        <td><a href=${'#/dashboards/' + enc(d.id)}><strong>${d.name || d.id}</strong></a></td>
        <td class="num">${d.widgets.length}</td><td class="hide-s">${time(d.updated)}</td>
        <td class="row-actions"><${IconButton} icon="edit" label=${`Rename ${d.name || d.id}`} onClick=${() => rename(d)} />
          <${IconButton} icon="trash" class="danger" label=${`Delete ${d.name || d.id}`} onClick=${() => remove(d)} /></td>
      </tr>`)}</tbody>
    </table></div>`}
    ${dialog}`;
}
