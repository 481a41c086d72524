'use strict';

const assert = require('node:assert/strict');
const { helper, flow, load, next, calls, lastStatus } = require('./lib/red');
const { MockPerch, json } = require('./lib/mock');

describe('perch bucket write', function () {
    let mock;
    before(() => helper.startServer());
    after(() => helper.stopServer());
    beforeEach(async function () {
        mock = await new MockPerch().start();
        mock.handler = (r, res) => json(res, 200, { accepted: Array.isArray(r.body) ? r.body.length : 1, rejected: [] });
    });
    afterEach(async function () {
        await helper.unload();
        await mock.stop();
    });

    function writer(props) {
        return flow(mock, { id: 'w', type: 'perch-bucket-write', gateway: 'gw', wires: [['out']], ...props });
    }

    it('writes msg.payload and passes the msg on with the answer', async function () {
        await load(writer({ bucket: 'env', device: 'node-red' }));
        const payload = { temp: 21.5, env: { hum: 40 }, ts: 1767225600000 };
        const got = next('out');
        helper.getNode('w').receive({ payload });
        const msg = await got;
        const r = mock.requests[0];
        assert.equal(r.method, 'POST');
        assert.equal(r.path, '/api/v1/buckets/env/data');
        assert.deepEqual(r.query, { device: 'node-red' });
        assert.equal(r.headers['content-type'], 'application/json');
        assert.deepEqual(r.body, payload);
        assert.deepEqual(msg.payload, payload);
        assert.deepEqual(msg.perch, { bucket: 'env', accepted: 1, rejected: [] });
        assert.deepEqual(lastStatus(helper.getNode('w')), { fill: 'green', shape: 'dot', text: '1 stored in env' });
    });

    it('takes bucket and device from the msg, and sends arrays, numbers and JSON text as they are', async function () {
        await load(writer({ bucket: 'env' }));
        const cases = [
            [{ payload: [{ t: 1 }, { t: 2 }], bucket: 'other', device: 'd7' }, '/api/v1/buckets/other/data', { device: 'd7' }, '[{"t":1},{"t":2}]'],
            [{ payload: 21.5 }, '/api/v1/buckets/env/data', {}, '21.5'],
            [{ payload: '{"t": 3}' }, '/api/v1/buckets/env/data', {}, '{"t": 3}'],
        ];
        for (const [m, path, query, raw] of cases) {
            const got = next('out');
            helper.getNode('w').receive(m);
            await got;
            const r = mock.requests[mock.requests.length - 1];
            assert.equal(r.path, path);
            assert.deepEqual(r.query, query);
            assert.equal(r.raw, raw);
        }
    });

    it('stores records under their own devices, and maps refusals back to the items', async function () {
        mock.handler = (r, res) => {
            // the second item of device a's write is refused
            const rejected = r.query.device === 'a' ? [{ index: 1, reason: 'too old', message: 'older than the bucket can still write' }] : [];
            json(res, 200, { accepted: r.body.length - rejected.length, rejected });
        };
        await load(writer({ bucket: 'daily', deviceFrom: 'record', device: 'fallback' }));
        const records = [
            { ts: 1, device: 'a', t: 1 },
            { ts: 1, device: 'b', t: 2 },
            { ts: 2, device: 'a', t: 3 },
            { ts: 3, t: 4 },
        ];
        const got = next('out');
        helper.getNode('w').receive({ payload: records });
        const msg = await got;
        const byDevice = Object.fromEntries(mock.requests.map((r) => [r.query.device, r.body]));
        assert.deepEqual(byDevice, { a: [records[0], records[2]], b: [records[1]], fallback: [records[3]] });
        assert.deepEqual(msg.perch, {
            bucket: 'daily',
            accepted: 3,
            rejected: [{ index: 2, reason: 'too old', message: 'older than the bucket can still write' }],
        });
        const w = helper.getNode('w');
        assert.deepEqual(lastStatus(w), { fill: 'yellow', shape: 'dot', text: '3 stored, 1 refused' });
        assert.match(calls(w, 'warn').map((c) => c[0]).join('\n'), /1 item\(s\) not stored in daily; the first, item 2: too old/);
    });

    it('hands a write the gateway refused to Catch nodes with the msg', async function () {
        mock.handler = (r, res) => json(res, 422, { error: { status: 422, code: 'rejected', field: '[0]', message: 'nothing stored: too old: older than the bucket can still write' } });
        await load(writer({ bucket: 'env' }));
        const caught = next('caught');
        helper.getNode('w').receive({ payload: { t: 1, ts: 946684800000 } });
        const msg = await caught;
        assert.match(msg.error.message, /422 rejected \(\[0\]\): nothing stored: too old/);
        assert.deepEqual(msg.payload, { t: 1, ts: 946684800000 });
        assert.equal(lastStatus(helper.getNode('w')).fill, 'red');
    });

    it('refuses an empty payload or no bucket without asking the gateway', async function () {
        await load(writer({}));
        for (const [m, want] of [[{ payload: { t: 1 } }, /no bucket/], [{ payload: null, bucket: 'env' }, /msg.payload is empty/],
            [{ payload: () => 1, bucket: 'env' }, /must be an object/]]) {
            const caught = next('caught');
            helper.getNode('w').receive(m);
            assert.match((await caught).error.message, want);
        }
        assert.equal(mock.requests.length, 0);
    });
});
