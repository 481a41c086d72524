// Small shared components: icons, buttons, dialogs, messages, and the
// hooks that load and poll API data.
import { useEffect, useRef, useState, useCallback } from 'preact/hooks';
import { html } from './html.js';

// Icons are inline SVG paths (24×24, stroked), no icon font.
const paths = {
  plus: 'M12 5v14M5 12h14',
  trash: 'M4 7h16M10 11v6M14 11v6M6 7l1 13h10l1-13M9 7V4h6v3',
  edit: 'M4 20h4L19 9l-4-4L4 16v4z',
  copy: 'M9 9h11v11H9zM5 15H4V4h11v1',
  check: 'M5 12l5 5L20 7',
  x: 'M6 6l12 12M18 6L6 18',
  download: 'M12 4v12M7 11l5 5 5-5M5 20h14',
  left: 'M15 6l-6 6 6 6', right: 'M9 6l6 6-6 6', up: 'M6 15l6-6 6 6', down: 'M6 9l6 6 6-6',
  wider: 'M4 12h16M8 8l-4 4 4 4M16 8l4 4-4 4',
  narrower: 'M4 12h6M20 12h-6M7 9l3 3-3 3M17 9l-3 3 3 3',
  taller: 'M12 4v16M8 8l4-4 4 4M8 16l4 4 4-4',
  shorter: 'M12 3v6M12 21v-6M9 6l3 3 3-3M9 18l3-3 3 3',
  menu: 'M4 6h16M4 12h16M4 18h16',
  logout: 'M15 4h4v16h-4M10 8l-4 4 4 4M6 12h10',
  refresh: 'M20 11a8 8 0 1 0-2 6M20 5v6h-6',
  power: 'M12 3v9M7 6a8 8 0 1 0 10 0',
};

export function Icon({ name, label }) {
  return html`<svg class="icon" viewBox="0 0 24 24" aria-hidden=${label ? undefined : 'true'}
    role=${label ? 'img' : undefined} aria-label=${label}><path d=${paths[name]} /></svg>`;
}

/** IconButton is a button showing an icon, named for screen readers. */
export function IconButton({ icon, label, onClick, disabled, class: cls = '' }) {
  return html`<button type="button" class=${'icon-btn ' + cls} title=${label} aria-label=${label}
    onClick=${onClick} disabled=${disabled}><${Icon} name=${icon} /></button>`;
}

export function CopyButton({ text, label = 'Copy' }) {
  const [done, setDone] = useState(false);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
    } catch {
      // Clipboard API needs a secure context and permission: fall back.
      const ta = document.createElement('textarea');
      ta.value = text;
      document.body.append(ta);
      ta.select();
      document.execCommand('copy');
      ta.remove();
    }
    setDone(true);
    setTimeout(() => setDone(false), 1500);
  };
  return html`<button type="button" class="small" onClick=${copy}>
    <${Icon} name=${done ? 'check' : 'copy'} /> ${done ? 'Copied' : label}</button>`;
}

/** Secret shows a value once, with a copy button. */
export function Secret({ label, value, note }) {
  return html`<div class="secret">
    <div class="secret-label">${label}</div>
    <div class="secret-row"><code>${value}</code><${CopyButton} text=${value} /></div>
    ${note && html`<p class="hint">${note}</p>`}
  </div>`;
}

export function ErrorBox({ error, onRetry }) {
  if (!error) return null;
  const msg = typeof error === 'string' ? error : error.message;
  return html`<div class="error" role="alert">${msg}
    ${onRetry && html` <button type="button" class="small" onClick=${onRetry}>Retry</button>`}</div>`;
}

export function Empty({ children }) {
  return html`<div class="empty">${children}</div>`;
}

export function Loading() {
  return html`<p class="loading" aria-live="polite">Loading…</p>`;
}

/** Modal is a native <dialog>: focus is trapped and Escape closes it. */
export function Modal({ title, onClose, children, wide }) {
  const ref = useRef();
  useEffect(() => {
    const d = ref.current;
    if (!d.open) d.showModal();
    const cancel = (e) => { e.preventDefault(); onClose(); };
    d.addEventListener('cancel', cancel);
    return () => d.removeEventListener('cancel', cancel);
  }, []);
  return html`<dialog ref=${ref} class=${wide ? 'wide' : ''} aria-label=${title}>
    <header><h2>${title}</h2><${IconButton} icon="x" label="Close" onClick=${onClose} /></header>
    <div class="dialog-body">${children}</div>
  </dialog>`;
}

/** Confirm asks before something that cannot be undone. */
export function Confirm({ title, children, action = 'Delete', onConfirm, onClose }) {
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState(null);
  const go = async () => {
    setBusy(true);
    setErr(null);
    try {
      await onConfirm();
      onClose();
    } catch (e) {
      setErr(e);
      setBusy(false);
    }
  };
  return html`<${Modal} title=${title} onClose=${onClose}>
    <div>${children}</div>
    <${ErrorBox} error=${err} />
    <div class="actions">
      <button type="button" onClick=${onClose}>Cancel</button>
      <button type="button" class="danger" onClick=${go} disabled=${busy}>${action}</button>
    </div>
  </${Modal}>`;
}

/** Field is a labelled form control; the error shows when it names it. */
export function Field({ label, hint, error, name, children }) {
  const bad = error && error.field === name;
  return html`<label class=${'field' + (bad ? ' bad' : '')}>
    <span class="field-label">${label}</span>
    ${children}
    ${bad ? html`<span class="field-error">${error.message}</span>` : hint && html`<span class="hint">${hint}</span>`}
  </label>`;
}

/**
 * useLoad runs load() now, every `every` ms if given, and on reload(); it
 * keeps the last good data while showing a newer error.
 */
export function useLoad(load, deps = [], every = 0) {
  const [state, setState] = useState({ data: undefined, error: null, loading: true });
  const seq = useRef(0);
  const run = useCallback(async () => {
    const n = ++seq.current;
    try {
      const data = await load();
      if (n === seq.current) setState({ data, error: null, loading: false });
    } catch (error) {
      if (n === seq.current) setState((s) => ({ data: s.data, error, loading: false }));
    }
  }, deps);
  useEffect(() => {
    setState({ data: undefined, error: null, loading: true });
    run();
    if (!every) return () => { seq.current++; };
    const t = setInterval(() => document.hidden || run(), every);
    return () => { clearInterval(t); seq.current++; };
  }, [run]);
  return { ...state, reload: run };
}

/** Toggle is an on/off switch button (role=switch). */
export function Toggle({ checked, onChange, label, disabled }) {
  return html`<button type="button" role="switch" aria-checked=${checked ? 'true' : 'false'}
    class="toggle" aria-label=${label} title=${label} disabled=${disabled}
    onClick=${() => onChange(!checked)}><span /></button>`;
}
