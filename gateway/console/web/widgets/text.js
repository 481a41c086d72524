// Text: a note on the dashboard (plain text, line breaks kept).
import { html } from '../lib/html.js';

export default function Text({ widget }) {
  const text = widget.options?.text || '';
  return text ? html`<p class="note">${text}</p>` : html`<div class="widget-state">No text yet: edit the widget.</div>`;
}
