// Login with the account id and the admin password.
import { useState } from 'preact/hooks';
import { html } from '../lib/html.js';
import { login } from '../lib/api.js';
import { ErrorBox } from '../lib/ui.js';

export function Login({ notice, onLogin }) {
  const [account, setAccount] = useState(localStorage.getItem('perch.account') || 'admin');
  const [password, setPassword] = useState('');
  const [err, setErr] = useState(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    setErr(null);
    try {
      await login(account.trim(), password);
      localStorage.setItem('perch.account', account.trim());
      onLogin();
    } catch (e2) {
      setErr(e2);
      setBusy(false);
    }
  };
  return html`<main class="login" id="main">
    <form onSubmit=${submit} aria-labelledby="login-title">
      <h1 id="login-title"><img src="/console/icon.svg" alt="" width="32" height="32" /> Perch</h1>
      ${notice && html`<p class="notice" role="status">${notice}</p>`}
      <label class="field"><span class="field-label">Account id</span>
        <input name="account" autocomplete="username" required value=${account}
          onInput=${(e) => setAccount(e.target.value)} /></label>
      <label class="field"><span class="field-label">Admin password</span>
        <input name="password" type="password" autocomplete="current-password" required autofocus
          value=${password} onInput=${(e) => setPassword(e.target.value)} /></label>
      <${ErrorBox} error=${err} />
      <button type="submit" class="primary" disabled=${busy}>${busy ? 'Logging in…' : 'Log in'}</button>
      <p class="hint">The password was printed when the gateway first started; <code>perch admin password</code> sets a new one.</p>
    </form>
  </main>`;
}
