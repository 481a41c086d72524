'use strict';

const assert = require('node:assert/strict');
const { helper, flow, load, next, lastStatus } = require('./lib/red');
const { MockPerch, json } = require('./lib/mock');

const D1 = { id: 'd1', name: 'Greenhouse', enabled: true, acl: { publish: ['#'], subscribe: ['#'] }, status: { connected: true, remote_addr: '127.0.0.1:5000' } };
const D2 = { id: 'd2', name: '', enabled: true, acl: { publish: ['#'], subscribe: ['#'] }, status: { connected: false, last_seen: null } };

describe('perch device', function () {
    let mock;
    before(() => helper.startServer());
    after(() => helper.stopServer());
    beforeEach(async function () {
        mock = await new MockPerch().start();
        mock.handler = (r, res) => {
            const key = `${r.method} ${r.path}`;
            switch (key) {
            case 'GET /api/v1/devices': return json(res, 200, [D1, D2]);
            case 'GET /api/v1/devices/d1': return json(res, 200, D1);
            case 'PATCH /api/v1/devices/d1': return json(res, 200, { ...D1, enabled: r.body.enabled, status: { connected: false } });
            case 'POST /api/v1/devices/d1/credentials':
                return json(res, 200, { id: 'd1', credentials: r.body && r.body.credentials ? r.body.credentials : 'generated-secret' });
            default:
                return json(res, 404, { error: { status: 404, code: 'not_found', field: 'id', message: 'device not found: nope' } });
            }
        };
    });
    afterEach(async function () {
        await helper.unload();
        await mock.stop();
    });

    function device(props) {
        return flow(mock, { id: 'd', type: 'perch-device', gateway: 'gw', wires: [['out']], ...props });
    }

    async function run(m) {
        const got = next('out');
        helper.getNode('d').receive(m);
        return got;
    }

    it('lists the devices with their live status', async function () {
        await load(device({ action: 'list' }));
        const msg = await run({});
        assert.deepEqual(msg.payload, [D1, D2]);
        assert.deepEqual(mock.requests.map((r) => `${r.method} ${r.path}`), ['GET /api/v1/devices']);
        assert.deepEqual(lastStatus(helper.getNode('d')), { fill: 'green', shape: 'dot', text: '2 devices, 1 online' });
    });

    it('shows, disables and enables a device', async function () {
        await load(device({ action: 'get', device: 'd1' }));
        assert.deepEqual((await run({})).payload, D1);
        assert.deepEqual(lastStatus(helper.getNode('d')).text, 'd1: online');
        let msg = await run({ action: 'disable' });
        assert.equal(msg.payload.enabled, false);
        assert.deepEqual(msg.perch, { action: 'disable', device: 'd1' });
        assert.deepEqual(lastStatus(helper.getNode('d')).text, 'd1: disabled');
        msg = await run({ action: 'enable' });
        assert.equal(msg.payload.enabled, true);
        assert.deepEqual(mock.requests.map((r) => [r.method, r.path, r.body]), [
            ['GET', '/api/v1/devices/d1', undefined],
            ['PATCH', '/api/v1/devices/d1', { enabled: false }],
            ['PATCH', '/api/v1/devices/d1', { enabled: true }],
        ]);
    });

    it('gives a device new credentials, generated or chosen', async function () {
        await load(device({ action: 'credentials' }));
        let msg = await run({ device: 'd1' });
        assert.deepEqual(msg.payload, { id: 'd1', credentials: 'generated-secret' });
        assert.equal(mock.requests[0].raw, '');
        assert.equal(mock.requests[0].headers['content-length'], '0');
        msg = await run({ device: 'd1', credentials: 'a long chosen password' });
        assert.deepEqual(msg.payload, { id: 'd1', credentials: 'a long chosen password' });
        assert.deepEqual(mock.requests[1].body, { credentials: 'a long chosen password' });
    });

    it('hands errors to Catch nodes with the msg', async function () {
        await load(device({ action: 'get' }));
        const cases = [
            [{ device: 'nope' }, /404 not_found \(id\): device not found: nope/],
            [{}, /no device for get/],
            [{ action: 'explode', device: 'd1' }, /unknown action "explode"/],
        ];
        for (const [m, want] of cases) {
            const caught = next('caught');
            helper.getNode('d').receive({ payload: 'p', ...m });
            const msg = await caught;
            assert.match(msg.error.message, want);
            assert.equal(msg.payload, 'p');
        }
        assert.equal(mock.requests.length, 1);
        assert.equal(lastStatus(helper.getNode('d')).fill, 'red');
    });

    it('uses the token from the credential store, never from the flow', async function () {
        await load(device({ action: 'list' }), { gw: { token: 'wrong' } });
        const caught = next('caught');
        helper.getNode('d').receive({});
        assert.match((await caught).error.message, /401 unauthorized: invalid API token/);
        assert.equal(mock.requests[0].headers.authorization, 'Bearer wrong');
    });
});
