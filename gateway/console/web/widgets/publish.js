// Publishing from a widget: POST /api/v1/mqtt/publish.
import { api } from '../lib/api.js';

/** publishTopic is where a switch or slider publishes. */
export function publishTopic(widget) {
  const o = widget.options || {};
  if (o.topic) return o.topic;
  const t = widget.source.kind === 'topic' ? widget.source.topic : '';
  return t && !/[+#]/.test(t) ? t : '';
}

export function publish(widget, payload) {
  const o = widget.options || {};
  return api.post('/mqtt/publish', { topic: publishTopic(widget), payload: String(payload), qos: Number(o.qos ?? 1), retain: o.retain !== false });
}
