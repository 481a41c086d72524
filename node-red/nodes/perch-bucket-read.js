'use strict';

const { present, pick, toTime, relative, list, gateway, failed, seg } = require('../lib/util');

module.exports = function (RED) {
    // perch bucket read queries a bucket (GET /api/v1/buckets/{id}/data):
    // a range, fields, a device, an aggregation and its interval, from the
    // node's settings or the msg; the records go out in msg.payload.
    function PerchBucketReadNode(config) {
        RED.nodes.createNode(this, config);
        const node = this;
        const client = gateway(RED, node, config.gateway);

        node.on('input', async (msg, send, done) => {
            if (!client) {
                done(new Error('no perch-gateway configured'));
                return;
            }
            let bucket;
            let query;
            try {
                ({ bucket, query } = buildQuery(config, msg));
            } catch (err) {
                failed(node, err, done);
                return;
            }
            node.status({ fill: 'blue', shape: 'dot', text: `reading ${bucket}` });
            try {
                const format = query.format || 'json';
                const res = await client.request('GET', `/api/v1/buckets/${seg(bucket)}/data`, {
                    query,
                    accept: format === 'json' ? 'application/json' : '*/*',
                });
                const text = res.body.toString('utf8');
                let status;
                if (format === 'json') {
                    msg.payload = JSON.parse(text);
                    const n = msg.payload.length;
                    status = `${n} record${n === 1 ? '' : 's'}`;
                } else {
                    msg.payload = text; // CSV or ARFF, as the gateway wrote it
                    status = `${format}, ${res.body.length} bytes`;
                }
                msg.perch = { bucket, query };
                node.status({ fill: 'green', shape: 'dot', text: status });
                send(msg);
                done();
            } catch (err) {
                failed(node, err, done);
            }
        });
    }

    RED.nodes.registerType('perch-bucket-read', PerchBucketReadNode);
};

/**
 * buildQuery merges the node's settings and the msg's properties into the
 * bucket id and the query parameters of a data read. A msg property, when
 * given, overrides its setting; msg.query adds or overrides raw parameters.
 */
function buildQuery(config, msg) {
    const bucket = String(pick(msg.bucket, config.bucket) || '').trim();
    if (!bucket) throw new Error('no bucket: set one in the node or in msg.bucket');
    const q = {};
    if (present(msg.from) || present(msg.to) || present(msg.last)) {
        q.from = present(msg.last) ? relative(msg.last) : toTime(msg.from, 'msg.from');
        q.to = toTime(msg.to, 'msg.to');
    } else if (config.range === 'between') {
        q.from = toTime(config.from, 'from');
        q.to = toTime(config.to, 'to');
    } else if (config.range !== 'all' && present(config.last)) {
        q.from = relative(config.last);
    }
    q.fields = list(pick(msg.fields, config.fields));
    q.device = pick(msg.device, config.device);
    const agg = pick(msg.agg, config.agg);
    if (present(agg) && agg !== 'none') q.agg = agg;
    q.every = pick(msg.every, config.every);
    q.limit = pick(msg.limit, config.limit);
    q.sort = pick(msg.sort, config.sort);
    q.format = config.format === 'csv' ? 'csv' : undefined;
    q.ts_format = config.tsFormat === 'iso' ? 'iso' : undefined;
    if (msg.query && typeof msg.query === 'object') Object.assign(q, msg.query);
    for (const k of Object.keys(q)) {
        if (!present(q[k])) delete q[k];
        else q[k] = String(q[k]);
    }
    return { bucket, query: q };
}

module.exports.buildQuery = buildQuery;
