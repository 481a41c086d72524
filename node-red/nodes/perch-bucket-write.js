'use strict';

const { present, pick, gateway, failed, seg } = require('../lib/util');

module.exports = function (RED) {
    // perch bucket write stores msg.payload, one JSON object or an array of
    // them, in a bucket (POST /api/v1/buckets/{id}/data). The msg goes on
    // with the gateway's answer in msg.perch.
    function PerchBucketWriteNode(config) {
        RED.nodes.createNode(this, config);
        const node = this;
        const client = gateway(RED, node, config.gateway);

        node.on('input', async (msg, send, done) => {
            if (!client) {
                done(new Error('no perch-gateway configured'));
                return;
            }
            let bucket;
            let batches;
            try {
                bucket = String(pick(msg.bucket, config.bucket) || '').trim();
                if (!bucket) throw new Error('no bucket: set one in the node or in msg.bucket');
                batches = batch(msg.payload, config.deviceFrom === 'record', pick(msg.device, config.device));
            } catch (err) {
                failed(node, err, done);
                return;
            }
            node.status({ fill: 'blue', shape: 'dot', text: `writing to ${bucket}` });
            const result = { bucket, accepted: 0, rejected: [] };
            try {
                for (const b of batches) {
                    const answer = await client.json('POST', `/api/v1/buckets/${seg(bucket)}/data`, {
                        query: { device: b.device },
                        body: b.body,
                    });
                    result.accepted += answer.accepted;
                    for (const r of answer.rejected || []) {
                        result.rejected.push({ ...r, index: b.indexes ? b.indexes[r.index] : r.index });
                    }
                }
            } catch (err) {
                msg.perch = result;
                failed(node, err, done);
                return;
            }
            result.rejected.sort((a, b) => a.index - b.index);
            msg.perch = result;
            if (result.rejected.length > 0) {
                const r = result.rejected[0];
                node.status({ fill: 'yellow', shape: 'dot', text: `${result.accepted} stored, ${result.rejected.length} refused` });
                node.warn(`${result.rejected.length} item(s) not stored in ${bucket}; the first, item ${r.index}: ${r.reason}: ${r.message}`);
            } else {
                node.status({ fill: 'green', shape: 'dot', text: `${result.accepted} stored in ${bucket}` });
            }
            send(msg);
            done();
        });
    }

    RED.nodes.registerType('perch-bucket-write', PerchBucketWriteNode);
};

/**
 * batch turns a payload into the bodies of API writes. With byRecord, an
 * array's items are grouped by their own "device" member (as perch bucket
 * read returns records), one write per device, keeping each item's index.
 */
function batch(payload, byRecord, device) {
    if (payload === undefined || payload === null || payload === '') {
        throw new Error('msg.payload is empty: give an object, an array of objects, or JSON text');
    }
    const dev = present(device) ? String(device) : undefined;
    if (Buffer.isBuffer(payload) || typeof payload === 'string') {
        return [{ device: dev, body: payload }];
    }
    if (typeof payload !== 'object' && typeof payload !== 'number' && typeof payload !== 'boolean') {
        throw new Error(`msg.payload must be an object, an array of objects, a number or JSON text, not a ${typeof payload}`);
    }
    if (!byRecord || !Array.isArray(payload)) {
        if (byRecord && typeof payload === 'object' && typeof payload.device === 'string' && payload.device) {
            return [{ device: payload.device, body: payload }];
        }
        return [{ device: dev, body: payload }];
    }
    if (payload.length === 0) throw new Error('msg.payload is an empty array: nothing to write');
    const groups = new Map();
    payload.forEach((item, i) => {
        const d = item && typeof item === 'object' && typeof item.device === 'string' && item.device ? item.device : dev;
        const key = d === undefined ? '' : d;
        if (!groups.has(key)) groups.set(key, { device: d, body: [], indexes: [] });
        const g = groups.get(key);
        g.body.push(item);
        g.indexes.push(i);
    });
    return [...groups.values()];
}

module.exports.batch = batch;
