'use strict';
// The API client on its own: TLS is verified in every mode (and nothing is
// sent to a gateway that fails the check), errors carry the gateway's
// code and field, answers may be gzipped, and event streams are parsed.

const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const zlib = require('node:zlib');
const { PerchClient, PerchError, normalizeFingerprint } = require('../lib/client');
const { SSEParser } = require('../lib/sse');
const { MockPerch, json } = require('./lib/mock');
const { makeCA } = require('./lib/pki');

describe('PerchClient', function () {
    let mock;
    let other; // a CA the gateway does not use
    beforeEach(async function () {
        mock = await new MockPerch().start();
        mock.handler = (r, res) => json(res, 200, { ok: true, path: r.path });
        other = makeCA('Someone else');
    });
    afterEach(async function () {
        await mock.stop();
    });

    function client(tls, extra = {}) {
        return new PerchClient({ url: mock.url, token: 'test-token', tls, ...extra });
    }

    it('verifies the gateway with its CA (PEM text or file) and sends the token', async function () {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'perch-ca-'));
        try {
            fs.writeFileSync(path.join(dir, 'ca.pem'), mock.ca.pem);
            for (const tls of [{ mode: 'ca', ca: mock.ca.pem }, { mode: 'ca', caFile: path.join(dir, 'ca.pem') }]) {
                const c = client(tls);
                assert.deepEqual(await c.json('GET', '/api/v1/status'), { ok: true, path: '/api/v1/status' });
                c.close();
            }
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
        assert.equal(mock.requests.length, 2);
        assert.equal(mock.requests[0].headers.authorization, 'Bearer test-token');
        assert.match(mock.requests[0].headers['user-agent'], /^node-red-contrib-perch\//);
    });

    it('refuses a gateway its CA did not sign, sending nothing', async function () {
        for (const tls of [{ mode: 'ca', ca: other.pem }, { mode: 'system' }]) {
            const c = client(tls);
            await assert.rejects(c.json('GET', '/api/v1/status'), (err) => {
                assert.ok(err instanceof PerchError);
                assert.match(err.code, /CERT|SIGNATURE|ISSUER/);
                return true;
            });
            c.close();
        }
        assert.equal(mock.requests.length, 0);
    });

    it('refuses a host name the certificate does not name, whatever verifies the CA', async function () {
        const elsewhere = await new MockPerch({ names: { dns: ['perch.example'], ips: [] } }).start();
        try {
            for (const tls of [{ mode: 'ca', ca: elsewhere.ca.pem }, { mode: 'fingerprint', fingerprint: elsewhere.ca.fingerprint }]) {
                const c = new PerchClient({ url: elsewhere.url, token: 'test-token', tls });
                await assert.rejects(c.json('GET', '/api/v1/status'), (err) => err.code === 'ERR_TLS_CERT_ALTNAME_INVALID');
                c.close();
            }
            assert.equal(elsewhere.requests.length, 0);
        } finally {
            await elsewhere.stop();
        }
    });

    it('finds the CA by its fingerprint in the chain, in any spelling, then verifies fully', async function () {
        const fp = mock.ca.fingerprint;
        const spellings = [fp, fp.toLowerCase(), fp.replace(/:/g, ''), `SHA256 Fingerprint=${fp}`, `sha256:${fp.toLowerCase()}`];
        for (const s of spellings) {
            const c = client({ mode: 'fingerprint', fingerprint: s });
            assert.deepEqual(await c.json('GET', '/api/v1/devices'), { ok: true, path: '/api/v1/devices' });
            assert.deepEqual(await c.json('GET', '/api/v1/buckets'), { ok: true, path: '/api/v1/buckets' });
            c.close();
        }
        assert.equal(mock.requests.length, 2 * spellings.length);
    });

    it('refuses a chain without the fingerprint, or pinning the server certificate, sending nothing', async function () {
        for (const [fp, want] of [[other.fingerprint, /presented no certificate with the CA fingerprint/], [mock.cert.fingerprint, /not a CA certificate/]]) {
            const c = client({ mode: 'fingerprint', fingerprint: fp });
            await assert.rejects(c.json('GET', '/api/v1/status'), (err) => {
                assert.equal(err.code, 'FINGERPRINT_MISMATCH');
                assert.match(err.message, want);
                return true;
            });
            c.close();
        }
        assert.equal(mock.requests.length, 0);
    });

    it('checks the fingerprint again when the gateway\'s certificate changes', async function () {
        const c = client({ mode: 'fingerprint', fingerprint: mock.ca.fingerprint });
        await c.json('GET', '/api/v1/status');
        // Another CA takes over the address (a different gateway, or an attacker).
        const { makeServer } = require('./lib/pki');
        const cert = makeServer(other);
        mock.server.setSecureContext({ key: cert.keyPem, cert: cert.pem + other.pem });
        for (const s of mock.sockets) s.destroy();
        await assert.rejects(c.json('GET', '/api/v1/status'), (err) => /CERT|SIGNATURE|ISSUER/.test(err.code));
        await assert.rejects(c.json('GET', '/api/v1/status'), (err) => err.code === 'FINGERPRINT_MISMATCH');
        assert.equal(mock.requests.length, 1);
        c.close();
    });

    it('refuses by fingerprint a gateway that does not present its CA', async function () {
        const bare = await new MockPerch({ chain: false }).start();
        try {
            const c = new PerchClient({ url: bare.url, token: 'test-token', tls: { mode: 'fingerprint', fingerprint: bare.ca.fingerprint } });
            await assert.rejects(c.json('GET', '/api/v1/status'), /presented no certificate with the CA fingerprint/);
            c.close();
            assert.equal(bare.requests.length, 0);
        } finally {
            await bare.stop();
        }
    });

    it('reports bad settings on every request, not by throwing', async function () {
        const cases = [
            [{ url: 'http://localhost:8443', token: 't', tls: { mode: 'system' } }, /must start with https:\/\//],
            [{ url: 'not a url', token: 't', tls: { mode: 'system' } }, /is not a URL/],
            [{ url: mock.url, tls: { mode: 'system' } }, /no API token/],
            [{ url: mock.url, token: 't', tls: { mode: 'ca' } }, /no CA certificate/],
            [{ url: mock.url, token: 't', tls: { mode: 'ca', ca: 'hello' } }, /not a PEM certificate/],
            [{ url: mock.url, token: 't', tls: { mode: 'ca', caFile: '/nonexistent/ca.pem' } }, /cannot read the CA file/],
            [{ url: mock.url, token: 't', tls: { mode: 'fingerprint', fingerprint: 'AB:CD' } }, /SHA-256 fingerprint/],
            [{ url: mock.url, token: 't', tls: { mode: 'none' } }, /unknown TLS mode/],
        ];
        for (const [opts, want] of cases) {
            const c = new PerchClient(opts);
            assert.match(c.error.message, want);
            await assert.rejects(c.json('GET', '/api/v1/status'), want);
        }
        assert.equal(mock.requests.length, 0);
    });

    it('turns the gateway\'s JSON errors into errors naming status, code and field', async function () {
        mock.handler = (r, res) => json(res, 400, { error: { status: 400, code: 'invalid_query', field: 'every', message: 'every: not an interval: "2x"' } });
        const c = client({ mode: 'ca', ca: mock.ca.pem });
        await assert.rejects(c.json('GET', '/api/v1/buckets/env/data', { query: { every: '2x' } }), (err) => {
            assert.equal(err.status, 400);
            assert.equal(err.code, 'invalid_query');
            assert.equal(err.field, 'every');
            assert.equal(err.message, '400 invalid_query (every): every: not an interval: "2x"');
            return true;
        });
        assert.equal(mock.requests[0].query.every, '2x');
        // a wrong token is the gateway's 401
        const bad = new PerchClient({ url: mock.url, token: 'wrong', tls: { mode: 'ca', ca: mock.ca.pem } });
        await assert.rejects(bad.json('GET', '/api/v1/status'), (err) => err.status === 401 && err.code === 'unauthorized');
        c.close();
        bad.close();
    });

    it('reads gzipped answers and keeps a path prefix', async function () {
        mock.handler = (r, res) => {
            const b = zlib.gzipSync(JSON.stringify([{ ts: 1, device: 'd', t: 21.5 }]));
            res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Encoding': 'gzip' });
            res.end(b);
        };
        const c = new PerchClient({ url: `${mock.url}/perch/api/v1/`, token: 'test-token', tls: { mode: 'ca', ca: mock.ca.pem } });
        assert.deepEqual(await c.json('GET', '/api/v1/buckets/env/data'), [{ ts: 1, device: 'd', t: 21.5 }]);
        assert.equal(mock.requests[0].path, '/perch/api/v1/buckets/env/data');
        assert.equal(mock.requests[0].headers['accept-encoding'], 'gzip');
        c.close();
    });

    it('gives up on a gateway that does not answer', async function () {
        mock.handler = () => {}; // never answers
        const c = client({ mode: 'ca', ca: mock.ca.pem }, { timeout: 200 });
        await assert.rejects(c.json('GET', '/api/v1/status'), (err) => err.code === 'ETIMEDOUT' && /within 0.2 s/.test(err.message));
        c.close();
    });

    it('streams server-sent events and ends with the gateway', async function () {
        let resp;
        mock.handler = (r, res) => {
            resp = res;
            res.writeHead(200, { 'Content-Type': 'text/event-stream' });
            res.write(': hello\n\ndata: {"a":1}\n\n');
            res.write('event: dropped\r\ndata: {"dropped":3}\r\n\r\ndata: line1\ndata: line2\n');
            res.write('\n');
        };
        const c = client({ mode: 'ca', ca: mock.ca.pem });
        const s = await c.stream('/api/v1/events', { query: { type: 'bucket_write' } });
        const got = [];
        s.on('event', (ev) => got.push(ev));
        const closed = new Promise((resolve) => s.once('close', resolve));
        await mock.waitFor('three events', () => got.length === 3);
        assert.deepEqual(got.map((e) => [e.event, e.data]), [['message', '{"a":1}'], ['dropped', '{"dropped":3}'], ['message', 'line1\nline2']]);
        assert.equal(mock.requests[0].query.type, 'bucket_write');
        assert.equal(mock.requests[0].headers.accept, 'text/event-stream');
        resp.end();
        assert.equal(await closed, null);
        c.close();
    });

    it('ends a silent stream after its idle timeout', async function () {
        mock.handler = (r, res) => {
            res.writeHead(200, { 'Content-Type': 'text/event-stream' });
            res.write(': hello\n\n');
        };
        const c = client({ mode: 'ca', ca: mock.ca.pem });
        const s = await c.stream('/api/v1/events', { idleTimeout: 150 });
        const err = await new Promise((resolve) => s.once('close', resolve));
        assert.equal(err.code, 'ETIMEDOUT');
        c.close();
    });
});

describe('SSEParser', function () {
    it('parses events split anywhere, with any line ending', function () {
        const text = ': comment\r\nevent: end\r\ndata: {}\r\n\r\ndata:no space\rid: 7\r\rdata: a\n\ndata\n\n';
        for (let cut = 0; cut <= text.length; cut++) {
            const got = [];
            const p = new SSEParser((ev) => got.push(ev));
            p.push(text.slice(0, cut));
            p.push(text.slice(cut));
            assert.deepEqual(got, [
                { event: 'end', data: '{}', id: undefined },
                { event: 'message', data: 'no space', id: '7' },
                { event: 'message', data: 'a', id: undefined },
                { event: 'message', data: '', id: undefined },
            ], `cut at ${cut}`);
        }
    });
});

describe('normalizeFingerprint', function () {
    it('writes fingerprints as Perch prints them', function () {
        const hex = 'ab'.repeat(32);
        const want = Array(32).fill('AB').join(':');
        assert.equal(normalizeFingerprint(hex), want);
        assert.equal(normalizeFingerprint(` ${want.toLowerCase()} `), want);
        assert.throws(() => normalizeFingerprint('ab'.repeat(20)), /SHA-256/);
        assert.throws(() => normalizeFingerprint('zz'.repeat(32)), /SHA-256/);
    });
});
