'use strict';

const assert = require('node:assert/strict');
const { helper, flow, load, next, calls, lastStatus } = require('./lib/red');
const { MockPerch, json } = require('./lib/mock');

const CONNECTED = { type: 'device_connected', ts: 1767225600000, device: 'd1', remote_addr: '127.0.0.1:5000', listener: 'tls', protocol_version: 4 };
const WRITE = { type: 'bucket_write', ts: 1767225600001, bucket: 'env', device: 'd1', topic: 'sensors/d1/env', values: { temp: 21.5 } };

describe('perch events', function () {
    let mock;
    let streams; // the open event streams' responses
    before(() => helper.startServer());
    after(() => helper.stopServer());
    beforeEach(async function () {
        mock = await new MockPerch().start();
        streams = [];
        mock.handler = (r, res) => {
            res.writeHead(200, { 'Content-Type': 'text/event-stream' });
            res.write(': stream of gateway events\n\n');
            streams.push(res);
        };
    });
    afterEach(async function () {
        await helper.unload();
        await mock.stop();
    });

    function events(props) {
        return flow(mock, { id: 'e', type: 'perch-events', gateway: 'gw', retry: 0.05, maxRetry: 0.2, wires: [['out']], ...props });
    }

    function send(res, ev, name) {
        res.write(`${name ? `event: ${name}\n` : ''}data: ${JSON.stringify(ev)}\n\n`);
    }

    it('sends one msg per event, asking for the chosen kinds only', async function () {
        await load(events({ connected: true, disconnected: false, writes: true, device: 'd1', bucket: '' }));
        await mock.waitFor('the stream', () => streams.length === 1);
        const e = helper.getNode('e');
        await mock.waitFor('the status', () => lastStatus(e) && lastStatus(e).text === 'connected');
        assert.equal(mock.requests[0].path, '/api/v1/events');
        assert.deepEqual(mock.requests[0].query, { type: 'device_connected,bucket_write', device: 'd1' });
        assert.equal(mock.requests[0].headers.accept, 'text/event-stream');

        let got = next('out');
        send(streams[0], CONNECTED);
        let msg = await got;
        assert.equal(msg.topic, 'device_connected');
        assert.deepEqual(msg.payload, CONNECTED);
        got = next('out');
        send(streams[0], { dropped: 7 }, 'dropped');
        send(streams[0], WRITE);
        msg = await got;
        assert.deepEqual([msg.topic, msg.payload], ['bucket_write', WRITE]);
        assert.match(calls(e, 'warn').map((c) => c[0]).join('\n'), /dropped 7 event\(s\)/);
    });

    it('asks for everything by default, or for one bucket', async function () {
        await load(events({}));
        await mock.waitFor('the stream', () => streams.length === 1);
        assert.deepEqual(mock.requests[0].query, {});
        await helper.unload();
        await load(events({ connected: false, disconnected: false, bucket: 'env' }));
        await mock.waitFor('the second stream', () => streams.length === 2);
        assert.deepEqual(mock.requests[1].query, { type: 'bucket_write', bucket: 'env' });
    });

    it('reconnects when the stream ends or fails, waiting longer after each failure', async function () {
        let refuse = 0;
        const at = [];
        mock.handler = (r, res) => {
            at.push(Date.now());
            if (refuse > 0) {
                refuse--;
                json(res, 503, { error: { status: 503, code: 'unavailable', message: 'the broker is shutting down' } });
                return;
            }
            res.writeHead(200, { 'Content-Type': 'text/event-stream' });
            res.write(': hello\n\n');
            streams.push(res);
        };
        await load(events({}));
        await mock.waitFor('the stream', () => streams.length === 1);
        // The gateway goes away: it ends the stream, then refuses three times.
        refuse = 3;
        streams[0].end('event: end\ndata: {}\n\n');
        await mock.waitFor('the stream back', () => streams.length === 2);
        assert.equal(at.length, 5);
        const waits = at.slice(1).map((t, i) => t - at[i]);
        // 50, 100, 200, 200 ms (the maximum); timers never fire early
        for (const [i, min] of [50, 100, 200, 200].entries()) {
            assert.ok(waits[i] >= min - 2, `wait ${i} was ${waits[i]} ms, want at least ${min}`);
        }
        const e = helper.getNode('e');
        assert.ok(calls(e, 'status').some((c) => /^retry in 0\.1 s: .*503 unavailable/.test(c[0].text)), 'the retries show in the status');
        // one warning for the run of failures, not one per retry
        assert.equal(calls(e, 'warn').length, 1);
        const got = next('out');
        send(streams[1], WRITE);
        assert.deepEqual((await got).payload, WRITE);
    });

    it('stops, telling Catch nodes, when another try cannot help', async function () {
        await load(events({}), { gw: { token: 'wrong' } });
        const caught = await next('caught');
        assert.match(caught.error.message, /perch events stopped: 401 unauthorized: invalid API token/);
        assert.equal(caught.topic, 'perch/events');
        const e = helper.getNode('e');
        assert.equal(lastStatus(e).fill, 'red');
        // With retries every 50 ms, a retrying node would have asked again by now.
        await new Promise((r) => setTimeout(r, 300));
        assert.equal(mock.requests.length, 1);
    });

    it('closes the stream when the flow stops', async function () {
        await load(events({}));
        await mock.waitFor('the stream', () => streams.length === 1);
        const closed = new Promise((resolve) => streams[0].once('close', resolve));
        await helper.unload();
        await closed;
        assert.equal(mock.requests.length, 1);
    });
});
