'use strict';

const { pick, present, gateway, failed, seg } = require('../lib/util');

const ACTIONS = ['list', 'get', 'enable', 'disable', 'credentials'];

module.exports = function (RED) {
    // perch device lists the gateway's devices with their live status, shows
    // one, enables or disables one, or gives it new credentials.
    function PerchDeviceNode(config) {
        RED.nodes.createNode(this, config);
        const node = this;
        const client = gateway(RED, node, config.gateway);

        node.on('input', async (msg, send, done) => {
            if (!client) {
                done(new Error('no perch-gateway configured'));
                return;
            }
            const action = String(pick(msg.action, config.action) || 'list');
            const id = String(pick(msg.device, config.device) || '').trim();
            try {
                if (!ACTIONS.includes(action)) {
                    throw new Error(`unknown action ${JSON.stringify(action)}: use ${ACTIONS.join(', ')}`);
                }
                if (action !== 'list' && !id) {
                    throw new Error(`no device for ${action}: set one in the node or in msg.device`);
                }
            } catch (err) {
                failed(node, err, done);
                return;
            }
            node.status({ fill: 'blue', shape: 'dot', text: action === 'list' ? 'listing' : `${action} ${id}` });
            try {
                const path = `/api/v1/devices/${seg(id)}`;
                let status;
                switch (action) {
                case 'list': {
                    msg.payload = await client.json('GET', '/api/v1/devices');
                    const online = msg.payload.filter((d) => d.status && d.status.connected).length;
                    status = `${msg.payload.length} devices, ${online} online`;
                    break;
                }
                case 'get':
                    msg.payload = await client.json('GET', path);
                    status = `${id}: ${state(msg.payload)}`;
                    break;
                case 'enable':
                case 'disable':
                    msg.payload = await client.json('PATCH', path, { body: { enabled: action === 'enable' } });
                    status = `${id}: ${state(msg.payload)}`;
                    break;
                case 'credentials': {
                    const body = present(msg.credentials) ? { credentials: String(msg.credentials) } : undefined;
                    msg.payload = await client.json('POST', `${path}/credentials`, { body });
                    status = `${id}: new credentials`;
                    break;
                }
                }
                msg.perch = { action, device: id || undefined };
                node.status({ fill: 'green', shape: 'dot', text: status });
                send(msg);
                done();
            } catch (err) {
                failed(node, err, done);
            }
        });
    }

    RED.nodes.registerType('perch-device', PerchDeviceNode);
};

function state(d) {
    if (!d.enabled) return 'disabled';
    return d.status && d.status.connected ? 'online' : 'offline';
}
