// Settings: the admin password and API tokens.
import { useState } from 'preact/hooks';
import { html } from '../lib/html.js';
import { api, enc } from '../lib/api.js';
import { Confirm, Empty, ErrorBox, Field, IconButton, Loading, Secret, useLoad } from '../lib/ui.js';
import { time } from '../lib/format.js';

function Password() {
  const [pw, setPw] = useState('');
  const [again, setAgain] = useState('');
  const [err, setErr] = useState(null);
  const [done, setDone] = useState(null);
  const [busy, setBusy] = useState(false);
  const submit = async (generate) => {
    setErr(null);
    setDone(null);
    if (!generate && pw !== again) {
      setErr({ field: 'again', message: 'The two passwords differ.' });
      return;
    }
    setBusy(true);
    try {
      const r = await api.put('/admin/password', generate ? {} : { password: pw });
      setDone(generate ? r.password : 'set');
      setPw('');
      setAgain('');
    } catch (e) {
      setErr(e);
    }
    setBusy(false);
  };
  return html`<section class="card">
    <h2>Admin password</h2>
    <form onSubmit=${(e) => { e.preventDefault(); submit(false); }}>
      <input type="text" name="username" autocomplete="username" value="admin" hidden />
      <div class="cols">
        <${Field} label="New password" name="password" error=${err}>
          <input type="password" autocomplete="new-password" required value=${pw} onInput=${(e) => setPw(e.target.value)} /></${Field}>
        <${Field} label="Again" name="again" error=${err}>
          <input type="password" autocomplete="new-password" required value=${again} onInput=${(e) => setAgain(e.target.value)} /></${Field}>
      </div>
      ${err && err.field !== 'password' && err.field !== 'again' && html`<${ErrorBox} error=${err} />`}
      <div class="actions">
        <button type="button" onClick=${() => submit(true)} disabled=${busy}>Generate one</button>
        <button type="submit" class="primary" disabled=${busy}>Set password</button>
      </div>
    </form>
    ${done === 'set' && html`<p class="ok-text" role="status">The admin password is changed.</p>`}
    ${done && done !== 'set' && html`<${Secret} label="The new admin password" value=${done} note="Shown only now: keep it in a password manager." />`}
  </section>`;
}

function Tokens() {
  const list = useLoad(() => api.get('/tokens'), []);
  const [name, setName] = useState('');
  const [readOnly, setReadOnly] = useState(true);
  const [err, setErr] = useState(null);
  const [created, setCreated] = useState(null);
  const [dialog, setDialog] = useState(null);
  const create = async (e) => {
    e.preventDefault();
    setErr(null);
    try {
      setCreated(await api.post('/tokens', { name: name.trim(), read_only: readOnly }));
      setName('');
      list.reload();
    } catch (e2) {
      setErr(e2);
    }
  };
  const toks = list.data;
  return html`<section class="card">
    <h2>API tokens</h2>
    <p class="hint">For scripts, Prometheus and the <code>perch</code> CLI on another machine (<code>--token</code>). Read-only tokens can only read.</p>
    <form class="form-row" onSubmit=${create}>
      <${Field} label="Name" name="name" error=${err}><input required value=${name} onInput=${(e) => setName(e.target.value)} placeholder="grafana" /></${Field}>
      <label class="inline"><input type="checkbox" checked=${readOnly} onChange=${(e) => setReadOnly(e.target.checked)} /> read-only</label>
      <button type="submit" class="primary">Create token</button>
    </form>
    ${err && err.field !== 'name' && html`<${ErrorBox} error=${err} />`}
    ${created && html`<${Secret} label=${`Token ${created.name}`} value=${created.token}
      note="Shown only now: the gateway keeps only a hash. Use it as Authorization: Bearer <token>." />`}
    <${ErrorBox} error=${list.error} onRetry=${list.reload} />
    ${!toks ? !list.error && html`<${Loading} />` : toks.length === 0 ? html`<${Empty}>No API tokens.</${Empty}>` : html`
    <div class="table-wrap"><table>
      <thead><tr><th>Name</th><th>Access</th><th>Created</th><th><span class="sr">Actions</span></th></tr></thead>
      <tbody>${toks.map((t) => html`<tr key=${t.id}><td>${t.name} <span class="hint"><code>${t.id}</code></span></td>
        <td>${t.read_only ? 'read-only' : 'full'}</td><td>${time(t.created)}</td>
        <td class="row-actions"><${IconButton} icon="trash" class="danger" label=${`Delete token ${t.name}`} onClick=${() => setDialog(html`<${Confirm}
          title=${`Delete token ${t.name}?`} onClose=${() => setDialog(null)}
          onConfirm=${async () => { await api.del('/tokens/' + enc(t.id)); list.reload(); }}>
          <p>Anything using it is refused from now on.</p></${Confirm}>`)} /></td></tr>`)}</tbody>
    </table></div>`}
    ${dialog}
  </section>`;
}

export default function Settings() {
  return html`<h1>Settings</h1><${Password} /><${Tokens} />`;
}
