// The console's entry point: hash routing, the session, the page frame.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { html } from './lib/html.js';
import { enc, hasSession, logout, onSessionExpired, prefetch } from './lib/api.js';
import { Icon, ErrorBox, Loading } from './lib/ui.js';
import { Login } from './pages/login.js';

// Pages load on first visit, so that the chart library is fetched only
// where a chart is shown.
const pages = {
  '': { title: 'Overview', load: () => import('./pages/overview.js') },
  devices: { title: 'Devices', load: () => import('./pages/devices.js') },
  buckets: { title: 'Buckets', load: () => import('./pages/buckets.js') },
  bucket: { title: 'Bucket', load: () => import('./pages/bucket.js'), nav: 'buckets' },
  dashboards: { title: 'Dashboards', load: () => import('./pages/dashboards.js') },
  dashboard: {
    title: 'Dashboard', load: () => import('./pages/dashboard.js'), nav: 'dashboards',
    // A dashboard's modules, fetched all at once (see preload); a file
    // missing here still loads, only later.
    modules: ['pages/dashboard.js', 'pages/dashboards.js', 'pages/widgetform.js', 'widgets/index.js', 'widgets/chart.js',
      'widgets/gauge.js', 'widgets/donut.js', 'widgets/value.js', 'widgets/led.js', 'widgets/switch.js', 'widgets/slider.js',
      'widgets/table.js', 'widgets/text.js', 'widgets/status.js', 'widgets/publish.js', 'lib/live.js', 'lib/stream.js',
      'lib/chart.js', 'lib/format.js', 'uplot'],
    data: (id) => '/dashboards/' + enc(id),
  },
  explorer: { title: 'MQTT explorer', load: () => import('./pages/explorer.js') },
  settings: { title: 'Settings', load: () => import('./pages/settings.js') },
};
const nav = ['', 'devices', 'buckets', 'dashboards', 'explorer', 'settings'];

/**
 * preload starts loading the page a visit opens with: its module and
 * everything it imports at once (a browser otherwise discovers imports
 * level by level, a round trip each), and its data, in parallel.
 */
function preload(route) {
  const page = pages[route.page];
  if (!page || !hasSession()) return;
  for (const m of page.modules || []) {
    const link = document.createElement('link');
    link.rel = 'modulepreload';
    link.href = m.endsWith('.js') ? new URL('./' + m, import.meta.url).href : import.meta.resolve(m);
    document.head.append(link);
  }
  if (page.data && route.id) prefetch(page.data(route.id));
  page.load().catch(() => { /* Page shows the error */ });
}

/** parse turns "#/buckets/env" into {page: 'bucket', id: 'env'}. */
function parse(hash) {
  const parts = hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  if (parts.length === 2 && (parts[0] === 'buckets' || parts[0] === 'dashboards')) {
    return { page: parts[0].slice(0, -1), id: parts[1] };
  }
  if (parts.length <= 1 && (parts[0] ?? '') in pages) return { page: parts[0] ?? '', id: '' };
  return { page: null, id: '' };
}

function useRoute() {
  const [route, setRoute] = useState(() => parse(location.hash));
  useEffect(() => {
    const on = () => setRoute(parse(location.hash));
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return route;
}

function Page({ route }) {
  const [mod, setMod] = useState(null);
  const [err, setErr] = useState(null);
  const page = pages[route.page];
  useEffect(() => {
    if (!page) return;
    let live = true;
    setMod(null);
    setErr(null);
    page.load().then((m) => live && setMod({ page: route.page, m }), () => live && setErr(
      'This page could not be loaded: the gateway may be unreachable. Reload to try again.'));
    return () => { live = false; };
  }, [route.page]);
  useEffect(() => { document.title = `${page ? page.title : 'Not found'} · Perch`; }, [route.page]);
  if (!page) return html`<h1>Not found</h1><p>No page at <code>${location.hash}</code>. <a href="#/">Go to the overview</a>.</p>`;
  if (err) return html`<${ErrorBox} error=${err} />`;
  // Until the new page's module is in, the old one must not render with
  // the new route's id.
  if (!mod || mod.page !== route.page) return html`<${Loading} />`;
  return html`<${mod.m.default} id=${route.id} />`;
}

function Shell({ route, onLogout }) {
  const [open, setOpen] = useState(false);
  const current = pages[route.page]?.nav ?? route.page;
  useEffect(() => setOpen(false), [route.page, route.id]);
  return html`
    <a class="skip" href="#main" onClick=${(e) => { e.preventDefault(); document.getElementById('main').focus(); }}>Skip to content</a>
    <header class="top">
      <a class="brand" href="#/"><img src="/console/icon.svg" alt="" width="24" height="24" /> Perch</a>
      <button type="button" class="icon-btn menu" aria-expanded=${open} aria-controls="nav"
        aria-label="Menu" onClick=${() => setOpen(!open)}><${Icon} name="menu" /></button>
      <nav id="nav" class=${open ? 'open' : ''} aria-label="Main">
        ${nav.map((p) => html`<a href=${'#/' + p} aria-current=${current === p ? 'page' : undefined}>${pages[p].title}</a>`)}
        <button type="button" class="link logout" onClick=${onLogout}><${Icon} name="logout" /> Log out</button>
      </nav>
    </header>
    <main id="main" tabindex="-1"><${Page} route=${route} /></main>`;
}

function App() {
  const route = useRoute();
  const [authed, setAuthed] = useState(hasSession());
  const [notice, setNotice] = useState('');
  useEffect(() => onSessionExpired(() => {
    setNotice('Your session has expired: log in again.');
    setAuthed(false);
  }), []);
  if (!authed) {
    return html`<${Login} notice=${notice} onLogin=${() => { setNotice(''); setAuthed(true); }} />`;
  }
  const out = async () => {
    try { await logout(); } catch { /* the session is gone either way */ }
    setNotice('You have logged out.');
    setAuthed(false);
  };
  return html`<${Shell} route=${route} onLogout=${out} />`;
}

preload(parse(location.hash));
const root = document.getElementById('app');
root.textContent = ''; // the "Loading…" placeholder
render(html`<${App} />`, root);
