// How a widget says where its data stands.
import { html } from '../lib/html.js';

export function FeedState({ feed, empty = 'No data yet.' }) {
  if (feed.state === 'error') return html`<div class="widget-state bad" role="status">${feed.message}</div>`;
  if (feed.records.length === 0) {
    return html`<div class="widget-state">${feed.state === 'connecting' ? 'Connecting…' : empty}</div>`;
  }
  return null;
}

/** field is the value a single-value widget shows. */
export function mainField(source) {
  return source.kind === 'topic' ? source.path || 'value' : (source.fields || [])[0] || '';
}
