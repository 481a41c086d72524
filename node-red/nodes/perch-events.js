'use strict';

const { follow } = require('../lib/follow');
const { present, gateway, short } = require('../lib/util');

const TYPES = { connected: 'device_connected', disconnected: 'device_disconnected', writes: 'bucket_write' };

module.exports = function (RED) {
    // perch events follows the gateway's live events (GET /api/v1/events):
    // devices connecting and disconnecting, points stored in buckets. One
    // msg per event: msg.topic is its type, msg.payload the event.
    function PerchEventsNode(config) {
        RED.nodes.createNode(this, config);
        const node = this;
        const client = gateway(RED, node, config.gateway);
        if (!client) return;

        const types = Object.keys(TYPES).filter((k) => config[k] !== false).map((k) => TYPES[k]);
        if (types.length === 0) {
            node.status({ fill: 'red', shape: 'ring', text: 'no event type chosen' });
            node.error('perch events: choose at least one kind of event');
            return;
        }
        const query = {};
        if (types.length < Object.keys(TYPES).length) query.type = types.join(',');
        if (present(config.device)) query.device = String(config.device).trim();
        if (present(config.bucket)) query.bucket = String(config.bucket).trim();
        const retry = Number(config.retry) > 0 ? Number(config.retry) : 1;
        const maxRetry = Number(config.maxRetry) > 0 ? Number(config.maxRetry) : 60;

        let failing = false; // warn once per run of failures, not at every retry
        const f = follow(client, '/api/v1/events', {
            query,
            minDelay: retry * 1000,
            maxDelay: maxRetry * 1000,
            onState(state, info) {
                switch (state) {
                case 'connecting':
                    node.status({ fill: 'yellow', shape: 'ring', text: 'connecting' });
                    break;
                case 'open':
                    failing = false;
                    node.status({ fill: 'green', shape: 'dot', text: 'connected' });
                    break;
                case 'waiting': {
                    const s = Math.round(info.delay / 100) / 10;
                    node.status({ fill: 'yellow', shape: 'ring', text: short(`retry in ${s} s: ${info.error.message}`) });
                    if (!failing) node.warn(`perch events: ${info.error.message}; reconnecting in ${s} s, then less and less often`);
                    failing = true;
                    break;
                }
                case 'stopped':
                    node.status({ fill: 'red', shape: 'ring', text: short(info.error.message) });
                    // With a msg, so that Catch nodes see it: the node cannot go on.
                    node.error(`perch events stopped: ${info.error.message}`, { topic: 'perch/events', payload: info.error.message });
                    break;
                }
            },
            onEvent(ev) {
                let data;
                try {
                    data = JSON.parse(ev.data);
                } catch {
                    return;
                }
                switch (ev.event) {
                case 'message':
                    node.send({ topic: data.type, payload: data });
                    break;
                case 'dropped':
                    node.warn(`perch events: the gateway dropped ${data.dropped} event(s) so far: this flow does not keep up`);
                    break;
                default: // "end": the gateway is shutting down; the stream's end reconnects
                }
            },
        });
        node.on('close', () => f.stop());
    }

    RED.nodes.registerType('perch-events', PerchEventsNode);
};
