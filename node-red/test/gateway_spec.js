'use strict';
// The perch-gateway config node: each way of checking TLS works from a
// flow, and a bad setting shows on the config node and on every node that
// uses it, and reaches Catch nodes with the message.

const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { helper, flow, load, next, calls, lastStatus } = require('./lib/red');
const { MockPerch, json } = require('./lib/mock');

describe('perch-gateway', function () {
    let mock;
    let dir;
    before(() => helper.startServer());
    after(() => helper.stopServer());
    beforeEach(async function () {
        mock = await new MockPerch().start();
        mock.handler = (r, res) => json(res, 200, []);
        dir = fs.mkdtempSync(path.join(os.tmpdir(), 'perch-gw-'));
    });
    afterEach(async function () {
        await helper.unload();
        await mock.stop();
        fs.rmSync(dir, { recursive: true, force: true });
    });

    function withGateway(gw) {
        const nodes = flow(mock, { id: 'd', type: 'perch-device', gateway: 'gw', action: 'list', wires: [['out']] });
        Object.assign(nodes.find((n) => n.id === 'gw'), gw);
        return nodes;
    }

    it('verifies with a CA file, a pasted CA or the CA\'s fingerprint', async function () {
        const caFile = path.join(dir, 'perch-ca.pem');
        fs.writeFileSync(caFile, mock.ca.pem);
        for (const gw of [
            { tls: 'ca', ca: '', caFile },
            { tls: 'ca', ca: mock.ca.pem, caFile: '' },
            { tls: 'fingerprint', ca: '', fingerprint: mock.ca.fingerprint },
        ]) {
            await load(withGateway(gw));
            const got = next('out');
            helper.getNode('d').receive({});
            assert.deepEqual((await got).payload, []);
            await helper.unload();
        }
        assert.equal(mock.requests.length, 3);
    });

    it('shows a bad setting on itself and on its users, and sends nothing', async function () {
        const cases = [
            [{ url: 'http://127.0.0.1:8443' }, /must start with https:\/\//],
            [{ tls: 'fingerprint', fingerprint: 'AB:CD' }, /SHA-256 fingerprint/],
            [{ tls: 'ca', ca: '', caFile: path.join(dir, 'missing.pem') }, /cannot read the CA file/],
        ];
        for (const [gw, want] of cases) {
            await load(withGateway(gw));
            assert.match(calls(helper.getNode('gw'), 'error').map((c) => c[0]).join('\n'), want);
            const d = helper.getNode('d');
            assert.equal(lastStatus(d).fill, 'red');
            assert.match(lastStatus(d).text, /^[a-z]/);
            const caught = next('caught');
            d.receive({ payload: 'x' });
            assert.match((await caught).error.message, want);
            await helper.unload();
        }
        assert.equal(mock.requests.length, 0);
    });

    it('without a token, says how to make one', async function () {
        await load(withGateway({}), {});
        const caught = next('caught');
        helper.getNode('d').receive({});
        assert.match((await caught).error.message, /no API token: create one on the gateway with `perch token create node-red`/);
        assert.equal(mock.requests.length, 0);
    });
});
