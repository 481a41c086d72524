// One dashboard: a 12-column grid of widgets. In edit mode widgets can be
// added, edited, deleted, moved and resized, with buttons (keyboard) or by
// dragging; every change is saved to the gateway.
import { useEffect, useRef, useState } from 'preact/hooks';
import { html } from '../lib/html.js';
import { api, enc } from '../lib/api.js';
import { Confirm, Empty, ErrorBox, Icon, IconButton, Loading } from '../lib/ui.js';
import { types } from '../widgets/index.js';
import { WidgetForm } from './widgetform.js';
import { NameForm } from './dashboards.js';

const COLS = 12, MAX_H = 24;
const overlap = (a, b) => a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;

/** settle pushes widgets that overlap the moved one down, then packs up. */
export function settle(widgets, movedId) {
  const ws = widgets.map((w) => ({ ...w }));
  const fixed = ws.find((w) => w.id === movedId);
  const order = ws.filter((w) => w !== fixed).sort((a, b) => a.y - b.y || a.x - b.x);
  const placed = fixed ? [fixed] : [];
  for (const w of order) {
    // As high as it can go without overlapping what is placed.
    w.y = 0;
    while (placed.some((p) => overlap(p, w))) w.y++;
    placed.push(w);
  }
  return ws;
}

function freeSpot(widgets, w, h) {
  const bottom = widgets.reduce((m, x) => Math.max(m, x.y + x.h), 0);
  for (let y = 0; y <= bottom; y++) {
    for (let x = 0; x + w <= COLS; x++) {
      if (!widgets.some((o) => overlap(o, { x, y, w, h }))) return { x, y };
    }
  }
  return { x: 0, y: bottom };
}

function Tile({ widget, editing, onChange, onEdit, onDelete, dragging, setDragging }) {
  const t = types[widget.type];
  const Comp = t?.component;
  const move = (dx, dy, dw, dh) => onChange({
    ...widget,
    x: Math.min(Math.max(widget.x + dx, 0), COLS - widget.w - Math.max(dw, 0)),
    y: Math.max(widget.y + dy, 0),
    w: Math.min(Math.max(widget.w + dw, 1), COLS - widget.x),
    h: Math.min(Math.max(widget.h + dh, 1), MAX_H),
  });
  // Resizing by dragging the corner: the grid's cell size from its box.
  const resize = (e) => {
    e.preventDefault();
    const grid = e.currentTarget.closest('.grid').getBoundingClientRect();
    const cell = grid.width / COLS;
    const rowH = parseFloat(getComputedStyle(e.currentTarget.closest('.grid')).gridAutoRows) + 12;
    const x0 = e.clientX, y0 = e.clientY, w0 = widget.w, h0 = widget.h;
    const onMove = (ev) => {
      const w = Math.min(Math.max(Math.round(w0 + (ev.clientX - x0) / cell), 1), COLS - widget.x);
      const h = Math.min(Math.max(Math.round(h0 + (ev.clientY - y0) / rowH), 1), MAX_H);
      if (w !== widget.w || h !== widget.h) onChange({ ...widget, w, h }, true);
    };
    const onUp = () => { removeEventListener('pointermove', onMove); removeEventListener('pointerup', onUp); onChange(null); };
    addEventListener('pointermove', onMove);
    addEventListener('pointerup', onUp);
  };
  const style = { gridColumn: `${widget.x + 1} / span ${widget.w}`, gridRow: `${widget.y + 1} / span ${widget.h}`, '--h': String(widget.h) };
  const cls = 'widget' + (dragging === widget.id ? ' dragging' : '') + (widget.w <= 3 ? ' half' : '');
  const name = widget.title || t?.label || widget.type;
  return html`<section class=${cls} style=${style} aria-label=${name}
    draggable=${editing} onDragStart=${(e) => { e.dataTransfer.setData('text/plain', widget.id); e.dataTransfer.effectAllowed = 'move'; setDragging(widget.id); }}
    onDragEnd=${() => setDragging(null)}>
    <div class=${'widget-head' + (editing ? ' handle' : '')}><h3>${widget.title}</h3></div>
    <div class=${'widget-body' + (widget.type === 'chart' || widget.type === 'table' ? ' fill' : '')}>
      ${Comp ? html`<${Comp} widget=${{ ...widget, options: { ...t.options, ...widget.options } }} />` : html`<div class="widget-state bad">Unknown widget type ${widget.type}.</div>`}
    </div>
    ${editing && html`<div class="widget-tools" role="toolbar" aria-label=${`Arrange ${name}`}>
      <${IconButton} icon="left" label="Move left" onClick=${() => move(-1, 0, 0, 0)} disabled=${widget.x === 0} />
      <${IconButton} icon="right" label="Move right" onClick=${() => move(1, 0, 0, 0)} disabled=${widget.x + widget.w >= COLS} />
      <${IconButton} icon="up" label="Move up" onClick=${() => move(0, -1, 0, 0)} disabled=${widget.y === 0} />
      <${IconButton} icon="down" label="Move down" onClick=${() => move(0, 1, 0, 0)} />
      <${IconButton} icon="narrower" label="Narrower" onClick=${() => move(0, 0, -1, 0)} disabled=${widget.w <= 1} />
      <${IconButton} icon="wider" label="Wider" onClick=${() => move(0, 0, 1, 0)} disabled=${widget.x + widget.w >= COLS} />
      <${IconButton} icon="shorter" label="Shorter" onClick=${() => move(0, 0, 0, -1)} disabled=${widget.h <= 1} />
      <${IconButton} icon="taller" label="Taller" onClick=${() => move(0, 0, 0, 1)} disabled=${widget.h >= MAX_H} />
      <${IconButton} icon="edit" label=${`Edit ${name}`} onClick=${onEdit} />
      <${IconButton} icon="trash" class="danger" label=${`Delete ${name}`} onClick=${onDelete} />
      <span class="resize" title="Drag to resize" onPointerDown=${resize} aria-hidden="true" />
    </div>`}
  </section>`;
}

export default function Dashboard({ id }) {
  const [dash, setDash] = useState(null);
  const [loadErr, setLoadErr] = useState(null);
  const [saveState, setSaveState] = useState('');
  const [saveErr, setSaveErr] = useState(null);
  const [editing, setEditing] = useState(false);
  const [dialog, setDialog] = useState(null);
  const [dragging, setDragging] = useState(null);
  const saveTimer = useRef(0);
  const close = () => setDialog(null);
  const load = () => api.get('/dashboards/' + enc(id)).then(setDash, setLoadErr);
  useEffect(() => { setDash(null); setLoadErr(null); load(); }, [id]);
  useEffect(() => () => clearTimeout(saveTimer.current), []);
  const save = (next, now = false) => {
    setDash(next);
    setSaveState('unsaved');
    clearTimeout(saveTimer.current);
    const put = async () => {
      setSaveState('saving');
      try {
        const d = await api.put('/dashboards/' + enc(id), { name: next.name, widgets: next.widgets });
        setDash((cur) => (cur === next ? d : cur));
        setSaveState('saved');
        setSaveErr(null);
      } catch (e) {
        setSaveState('');
        setSaveErr(e);
      }
    };
    if (now) return put();
    saveTimer.current = setTimeout(put, 400);
  };
  if (!dash) return loadErr ? html`<p><a href="#/dashboards">← Dashboards</a></p><${ErrorBox} error=${loadErr} onRetry=${load} />` : html`<${Loading} />`;
  const setWidgets = (widgets) => save({ ...dash, widgets });
  const change = (w) => {
    if (!w) return;
    setWidgets(settle(dash.widgets.map((x) => (x.id === w.id ? w : x)), w.id));
  };
  const add = () => {
    const type = 'value';
    const spot = freeSpot(dash.widgets, types[type].w, types[type].h);
    const w = { id: 'w' + Date.now().toString(36), type, title: '', ...spot, w: types[type].w, h: types[type].h,
      source: { kind: 'bucket', bucket: '', fields: [] }, options: { ...types[type].options } };
    setDialog(html`<${WidgetForm} widget=${w} onClose=${close} onSave=${async (nw) => {
      const size = nw.type !== w.type ? { w: types[nw.type].w, h: types[nw.type].h } : {};
      const placed = { ...nw, ...size, ...freeSpot(dash.widgets, size.w || nw.w, size.h || nw.h) };
      await save({ ...dash, widgets: [...dash.widgets, placed] }, true);
      close();
    }} />`);
  };
  const edit = (w) => setDialog(html`<${WidgetForm} widget=${w} onClose=${close} onSave=${async (nw) => {
    await save({ ...dash, widgets: settle(dash.widgets.map((x) => (x.id === w.id ? nw : x)), w.id) }, true);
    close();
  }} />`);
  const del = (w) => setDialog(html`<${Confirm} title=${`Delete ${w.title || 'this widget'}?`} onClose=${close}
    onConfirm=${() => save({ ...dash, widgets: dash.widgets.filter((x) => x.id !== w.id) }, true)}><p>Only the widget goes; its data stays.</p></${Confirm}>`);
  const rename = () => setDialog(html`<${NameForm} title="Rename dashboard" action="Rename" initial=${dash.name} onClose=${close}
    onSubmit=${async (name) => { await save({ ...dash, name }, true); close(); }} />`);
  const drop = (e) => {
    e.preventDefault();
    const wid = e.dataTransfer.getData('text/plain');
    const w = dash.widgets.find((x) => x.id === wid);
    if (!w) return;
    const rect = e.currentTarget.getBoundingClientRect();
    const rowH = parseFloat(getComputedStyle(e.currentTarget).gridAutoRows) + 12;
    const x = Math.min(Math.max(Math.floor(((e.clientX - rect.left) / rect.width) * COLS), 0), COLS - w.w);
    const y = Math.max(Math.floor((e.clientY - rect.top) / rowH), 0);
    setDragging(null);
    change({ ...w, x, y });
  };
  const rows = dash.widgets.reduce((m, w) => Math.max(m, w.y + w.h), 0);
  return html`
    <p class="crumbs"><a href="#/dashboards">Dashboards</a> /</p>
    <div class="page-head"><h1>${dash.name || dash.id}</h1>
      <div class="btn-row">
        <span class="hint" aria-live="polite">${{ unsaved: 'Unsaved…', saving: 'Saving…', saved: 'Saved' }[saveState] || ''}</span>
        ${editing && html`<button type="button" onClick=${rename}><${Icon} name="edit" /> Rename</button>
          <button type="button" onClick=${add}><${Icon} name="plus" /> Add widget</button>`}
        <button type="button" class=${editing ? 'primary' : ''} aria-pressed=${editing} onClick=${() => setEditing(!editing)}>${editing ? 'Done' : 'Edit'}</button>
      </div></div>
    <${ErrorBox} error=${saveErr && `Not saved: ${saveErr.message}`} />
    ${dash.widgets.length === 0 ? html`<${Empty}><p>This dashboard has no widgets yet.</p>
      <button type="button" class="primary" onClick=${() => { setEditing(true); add(); }}><${Icon} name="plus" /> Add a widget</button></${Empty}>` : html`
    <div class=${'grid' + (editing ? ' editing' : '')} style=${{ gridTemplateRows: `repeat(${rows + (editing ? 2 : 0)}, var(--row))` }}
      onDragOver=${(e) => editing && e.preventDefault()} onDrop=${drop}>
      ${[...dash.widgets].sort((a, b) => a.y - b.y || a.x - b.x).map((w) => html`<${Tile} key=${w.id} widget=${w} editing=${editing} dragging=${dragging} setDragging=${setDragging}
        onChange=${change} onEdit=${() => edit(w)} onDelete=${() => del(w)} />`)}
    </div>`}
    ${dialog}`;
}
