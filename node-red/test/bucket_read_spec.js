'use strict';

const assert = require('node:assert/strict');
const { helper, flow, load, next, lastStatus } = require('./lib/red');
const { MockPerch, json } = require('./lib/mock');

const RECORDS = [
    { ts: 1767225600000, device: 'd1', temp: 21.5, hum: 40 },
    { ts: 1767229200000, device: 'd1', temp: 22 },
];

describe('perch bucket read', function () {
    let mock;
    before(() => helper.startServer());
    after(() => helper.stopServer());
    beforeEach(async function () {
        mock = await new MockPerch().start();
        mock.handler = (r, res) => json(res, 200, RECORDS);
    });
    afterEach(async function () {
        await helper.unload();
        await mock.stop();
    });

    function reader(props) {
        return flow(mock, { id: 'r', type: 'perch-bucket-read', gateway: 'gw', wires: [['out']], ...props });
    }

    it('queries with its settings and sends the records', async function () {
        await load(reader({ bucket: 'env', range: 'last', last: '24h', fields: 'temp, hum', device: 'd1', agg: 'avg', every: '1h', limit: '100', sort: 'desc' }));
        const got = next('out');
        helper.getNode('r').receive({ payload: 'go', topic: 'sensors/x' });
        const msg = await got;
        assert.deepEqual(msg.payload, RECORDS);
        assert.equal(msg.topic, 'sensors/x', 'the msg is passed on');
        const r = mock.requests[0];
        assert.equal(r.method, 'GET');
        assert.equal(r.path, '/api/v1/buckets/env/data');
        assert.deepEqual(r.query, { from: '-24h', fields: 'temp,hum', device: 'd1', agg: 'avg', every: '1h', limit: '100', sort: 'desc' });
        assert.equal(r.headers.authorization, 'Bearer test-token');
        assert.deepEqual(msg.perch, { bucket: 'env', query: r.query });
        assert.deepEqual(lastStatus(helper.getNode('r')), { fill: 'green', shape: 'dot', text: '2 records' });
    });

    it('takes the bucket, range, fields and aggregation from the msg', async function () {
        await load(reader({ bucket: 'env', range: 'last', last: '1h', agg: 'avg', every: '1h', device: 'd1' }));
        const cases = [
            [{ bucket: 'other', from: new Date('2026-01-01T00:00:00Z'), to: 1767312000000, fields: ['a', 'b'], agg: 'max', query: { topic: 'sensors/d1/env' } },
                '/api/v1/buckets/other/data', { from: '1767225600000', to: '1767312000000', fields: 'a,b', agg: 'max', every: '1h', device: 'd1', topic: 'sensors/d1/env' }],
            [{ last: 'last 7d', every: '1d', device: 'd2' }, '/api/v1/buckets/env/data', { from: '-7d', agg: 'avg', every: '1d', device: 'd2' }],
            [{ from: '2026-01-01T00:00:00Z', agg: 'none', limit: 5, sort: 'desc' }, '/api/v1/buckets/env/data', { from: '2026-01-01T00:00:00Z', every: '1h', device: 'd1', limit: '5', sort: 'desc' }],
            [{ bucket: 'a b/c', from: '', to: null }, '/api/v1/buckets/a%20b%2Fc/data', { from: '-1h', agg: 'avg', every: '1h', device: 'd1' }],
        ];
        for (const [m, path, query] of cases) {
            const got = next('out');
            helper.getNode('r').receive({ payload: 1, ...m });
            await got;
            const r = mock.requests[mock.requests.length - 1];
            assert.equal(r.path, path);
            assert.deepEqual(r.query, query);
        }
    });

    it('reads a fixed range, or everything', async function () {
        await load(reader({ bucket: 'env', range: 'between', from: '2026-01-01T00:00:00Z', to: 'now' }));
        let got = next('out');
        helper.getNode('r').receive({});
        await got;
        assert.deepEqual(mock.requests[0].query, { from: '2026-01-01T00:00:00Z', to: 'now' });
        await helper.unload();
        await load(reader({ bucket: 'env', range: 'all', last: '1h' }));
        got = next('out');
        helper.getNode('r').receive({});
        await got;
        assert.deepEqual(mock.requests[1].query, {});
    });

    it('gives the gateway\'s CSV as text', async function () {
        const csv = 'ts,device,temp\n2026-01-01T00:00:00.000Z,d1,21.5\n';
        mock.handler = (r, res) => {
            res.writeHead(200, { 'Content-Type': 'text/csv' });
            res.end(csv);
        };
        await load(reader({ bucket: 'env', range: 'all', format: 'csv', tsFormat: 'iso' }));
        const got = next('out');
        helper.getNode('r').receive({});
        const msg = await got;
        assert.equal(msg.payload, csv);
        assert.deepEqual(mock.requests[0].query, { format: 'csv', ts_format: 'iso' });
        assert.deepEqual(lastStatus(helper.getNode('r')), { fill: 'green', shape: 'dot', text: `csv, ${csv.length} bytes` });
    });

    it('hands a refused query to Catch nodes with the msg', async function () {
        mock.handler = (r, res) => json(res, 400, { error: { status: 400, code: 'invalid_query', field: 'every', message: 'every: not an interval: "2x" (want 30s, 5m, 1h, 1d, 1w, 500ms or 1h30m)' } });
        await load(reader({ bucket: 'env', range: 'all' }));
        const caught = next('caught');
        helper.getNode('r').receive({ payload: 'keep me', every: '2x' });
        const msg = await caught;
        assert.equal(msg.payload, 'keep me');
        assert.match(msg.error.message, /^PerchError: 400 invalid_query \(every\): every: not an interval/);
        assert.equal(msg.error.source.id, 'r');
        assert.equal(lastStatus(helper.getNode('r')).fill, 'red');
    });

    it('hands a missing bucket or a bad time to Catch nodes without asking the gateway', async function () {
        await load(reader({ range: 'all' }));
        let caught = next('caught');
        helper.getNode('r').receive({});
        assert.match((await caught).error.message, /no bucket/);
        caught = next('caught');
        helper.getNode('r').receive({ bucket: 'env', from: new Date('nonsense') });
        assert.match((await caught).error.message, /msg.from is an invalid Date/);
        assert.equal(mock.requests.length, 0);
    });

    it('reports an unreachable gateway', async function () {
        const port = mock.port;
        await mock.stop();
        await load(flow({ url: `https://127.0.0.1:${port}`, ca: mock.ca }, { id: 'r', type: 'perch-bucket-read', gateway: 'gw', bucket: 'env', wires: [['out']] }));
        const caught = next('caught');
        helper.getNode('r').receive({});
        assert.match((await caught).error.message, /cannot reach https:\/\/127\.0\.0\.1:\d+: .*ECONNREFUSED/);
        mock = await new MockPerch().start(); // for afterEach
    });
});
