'use strict';
// End to end: a real Perch gateway (built from this repository, or
// $PERCH_BIN) and a real headless Node-RED 4.1 with this package installed
// in its user dir run on loopback ports. The three example flows are
// deployed through Node-RED's admin API, their placeholders filled in (the
// example files are not touched), with a probe flow of our own; a real
// MQTT client publishes over TLS as a device, and the outcomes are checked
// through Perch's API: the alert published, the aggregate stored, the CSV
// report served, the events streamed.

const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const mqtt = require('mqtt');
const { PerchClient } = require('../lib/client');
const { eventually, startPerch, startNodeRed, request } = require('./lib/procs');

const EXAMPLES = path.join(__dirname, '..', 'examples');
const DAY = 24 * 3600 * 1000;
const HOUR = 3600 * 1000;

function example(name) {
    return JSON.parse(fs.readFileSync(path.join(EXAMPLES, name), 'utf8'));
}

describe('end to end: Perch and Node-RED 4.1 running the example flows', function () {
    this.timeout(120000);

    let tmp;
    let perch;
    let red;
    let api; // PerchClient with the token, verifying with the CA file
    let token; // Node-RED's admin token
    const alerts = []; // messages on alerts/# from Perch's topic stream
    let alertStream;
    let sensor; // the MQTT client of device sensor-1
    let device; // device node-red, with its credentials
    let sensorDevice; // device sensor-1, with its credentials
    const ids = {}; // the examples' inject nodes, by name

    // Yesterday, UTC: the sensor's points lie in it.
    const Y = Math.floor(Date.now() / DAY) * DAY - DAY;
    const POINTS = [
        { ts: Y + 1 * HOUR + 10 * 60000, temp: 20, hum: 40 },
        { ts: Y + 1 * HOUR + 50 * 60000, temp: 21.5, hum: 42 },
        { ts: Y + 3 * HOUR + 30 * 60000, temp: 31.5, hum: 44 }, // over the 30 °C threshold
        { ts: Y + 4 * HOUR + 40 * 60000, temp: 19.25, hum: 46 },
    ];

    async function admin(method, p, body, headers = {}) {
        const r = await request(method, red.base + p, { body, headers: { Authorization: `Bearer ${token}`, ...headers } });
        if (r.status >= 400) throw new Error(`Node-RED ${method} ${p}: ${r.status} ${r.text}`);
        return r;
    }

    async function probe() {
        const r = await request('GET', `${red.base}/e2e/state`);
        assert.equal(r.status, 200, r.text);
        return r.json;
    }

    function report() {
        for (const p of [perch && perch.proc, red && red.proc]) {
            if (p) console.error(`--- ${p.name} output ---\n${p.output.slice(-6000)}`); // eslint-disable-line no-console
        }
    }

    before(async function () {
        try {
            await setUp();
        } catch (err) {
            report();
            throw err;
        }
    });

    async function setUp() {
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'perch-node-red-e2e-'));
        perch = await startPerch(tmp);
        const account = perch.ready.account;
        const apiURL = `https://${perch.ready.api}`;
        const [mqttHost, mqttPort] = [perch.ready.mqtt_tls.replace(/:\d+$/, ''), Number(perch.ready.mqtt_tls.split(':').pop())];

        // On the gateway, as node-red/README.md says.
        const apiToken = JSON.parse(perch.cli('token', 'create', 'node-red', '--json')).token;
        device = JSON.parse(perch.cli('device', 'add', 'node-red', '--subscribe', 'sensors/#', '--publish', 'alerts/#', '--json'));
        sensorDevice = JSON.parse(perch.cli('device', 'add', 'sensor-1', '--publish', 'sensors/%c/#', '--json'));
        perch.cli('bucket', 'add', 'env', '--topic', 'sensors/+/env');
        perch.cli('bucket', 'add', 'env_daily');
        const caFile = path.join(tmp, 'perch-ca.pem');
        fs.writeFileSync(caFile, perch.cli('ca', 'export'));

        api = new PerchClient({ url: apiURL, token: apiToken, tls: { mode: 'ca', caFile } });
        const status = await api.json('GET', '/api/v1/status');
        assert.match(status.ca_fingerprint, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);

        const password = crypto.randomBytes(12).toString('hex');
        red = await startNodeRed(tmp, password);
        const auth = await request('POST', `${red.base}/auth/token`, {
            body: { client_id: 'node-red-admin', grant_type: 'password', scope: '*', username: 'admin', password },
        });
        assert.equal(auth.status, 200, auth.text);
        token = auth.json.access_token;

        // The examples, their placeholders filled in for this gateway.
        const flows = [];
        const placeholders = { gateways: 0, brokers: 0, tls: 0 };
        for (const name of ['mqtt-threshold-alert.json', 'daily-aggregate.json', 'csv-report.json']) {
            for (const n of example(name)) {
                switch (n.type) {
                case 'perch-gateway':
                    placeholders.gateways++;
                    assert.equal(n.url, 'https://localhost:8443');
                    n.url = apiURL;
                    if (n.tls === 'ca') n.caFile = caFile;
                    else n.fingerprint = status.ca_fingerprint;
                    n.credentials = { token: apiToken };
                    break;
                case 'mqtt-broker':
                    placeholders.brokers++;
                    assert.deepEqual([n.broker, n.port, n.clientid], ['localhost', '8883', 'node-red']);
                    n.broker = mqttHost;
                    n.port = String(mqttPort);
                    n.credentials = { user: account, password: device.credentials };
                    break;
                case 'tls-config':
                    placeholders.tls++;
                    assert.equal(n.verifyservercert, true);
                    n.ca = caFile;
                    break;
                case 'file':
                    n.filename = path.join(tmp, 'perch-env-report.csv');
                    break;
                case 'inject':
                    ids[n.name] = n.id;
                    break;
                }
                flows.push(n);
            }
        }
        assert.deepEqual(placeholders, { gateways: 2, brokers: 1, tls: 1 });
        const fingerprintGW = flows.find((n) => n.type === 'perch-gateway' && n.tls === 'fingerprint').id;
        flows.push(...probeFlow(fingerprintGW));
        const dep = await admin('POST', '/flows', { flows }, { 'Node-RED-API-Version': 'v2', 'Node-RED-Deployment-Type': 'full' });
        assert.ok(dep.json.rev, dep.text);

        // Ready: Node-RED's MQTT client is logged in as device node-red and
        // subscribed; its events node is connected.
        await eventually('Node-RED logged in as device node-red', async () => (await api.json('GET', '/api/v1/devices/node-red')).status.connected);
        await eventually('its subscription', async () => (await api.json('GET', '/api/v1/status')).mqtt.subscriptions >= 1);
        await eventually('the events node connected', async () => (await probe()).status === 'connected');

        // Perch's own topic stream shows what is published on alerts/#.
        alertStream = await api.stream('/api/v1/mqtt/stream', { query: { filter: 'alerts/#' } });
        alertStream.on('event', (ev) => {
            if (ev.event === 'message') alerts.push(JSON.parse(ev.data));
        });
    }

    afterEach(function () {
        if (this.currentTest.state === 'failed') report();
    });

    after(async function () {
        if (alertStream) alertStream.close();
        if (sensor) await sensor.endAsync(true).catch(() => {});
        if (api) api.close();
        if (red) await red.proc.stop();
        if (perch) await perch.proc.stop();
        if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
    });

    it('has the package\'s nodes in the palette and its flows under Import > Examples', async function () {
        const nodes = await admin('GET', '/nodes', undefined, { Accept: 'application/json' });
        const sets = nodes.json.filter((s) => s.module === 'node-red-contrib-perch');
        assert.deepEqual(sets.map((s) => [s.types[0], s.enabled, s.local, s.err]).sort(), [
            ['perch-bucket-read', true, true, undefined], ['perch-bucket-write', true, true, undefined],
            ['perch-device', true, true, undefined], ['perch-events', true, true, undefined],
            ['perch-gateway', true, true, undefined],
        ]);
        assert.equal(sets[0].version, require('../package.json').version);
        const list = await admin('GET', '/library/examples/flows/node-red-contrib-perch');
        assert.deepEqual(list.json, [{ fn: 'csv-report' }, { fn: 'daily-aggregate' }, { fn: 'mqtt-threshold-alert' }]);
        for (const name of ['mqtt-threshold-alert', 'daily-aggregate', 'csv-report']) {
            const ex = await admin('GET', `/library/examples/flows/node-red-contrib-perch/${name}`);
            assert.deepEqual(ex.json, example(`${name}.json`));
        }
    });

    it('alerts over MQTT when a sensor passes the threshold (mqtt in → switch → function → mqtt out)', async function () {
        sensor = await mqtt.connectAsync({
            protocol: 'mqtts', host: '127.0.0.1', port: Number(perch.ready.mqtt_tls.split(':').pop()),
            ca: fs.readFileSync(path.join(tmp, 'perch-ca.pem')), rejectUnauthorized: true,
            username: perch.ready.account, password: sensorDevice.credentials, clientId: 'sensor-1',
            protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 10000,
        });
        for (const p of POINTS) {
            await sensor.publishAsync('sensors/sensor-1/env', JSON.stringify(p), { qos: 1 });
        }
        await eventually('the alert', () => alerts.length > 0);
        assert.equal(alerts[0].topic, 'alerts/sensor-1');
        assert.deepEqual(JSON.parse(alerts[0].payload), { device: 'sensor-1', temp: 31.5, threshold: 30, ts: POINTS[2].ts });
        assert.equal(alerts[0].qos, 1);
        // and the bucket has the sensor's points
        const rows = await api.json('GET', '/api/v1/buckets/env/data');
        assert.deepEqual(rows, POINTS.map((p) => ({ ts: p.ts, device: 'sensor-1', temp: p.temp, hum: p.hum })));
    });

    it('writes the daily averages of env into env_daily (inject → bucket read agg → bucket write)', async function () {
        // "Today at 00:05": the inject's timestamp, as its cron would give it.
        await admin('POST', `/inject/${ids['every day at 00:05']}`, {
            __user_inject_props__: [{ p: 'payload', v: String(Y + DAY + 5 * 60000), vt: 'num' }],
        });
        const rows = await eventually('the daily aggregate', async () => {
            const r = await api.json('GET', '/api/v1/buckets/env_daily/data');
            return r.length > 0 && r;
        });
        const avg = (k) => POINTS.reduce((s, p) => s + p[k], 0) / POINTS.length;
        assert.equal(avg('temp'), 23.0625);
        assert.deepEqual(rows, [{ ts: Y, device: 'sensor-1', temp: avg('temp'), hum: avg('hum') }]);
    });

    it('serves a CSV report of hourly averages over HTTP, and writes it to a file (bucket read → csv)', async function () {
        const want = [
            'ts,device,temp,hum',
            `${new Date(Y + 1 * HOUR).toISOString()},sensor-1,20.75,41`,
            `${new Date(Y + 3 * HOUR).toISOString()},sensor-1,31.5,44`,
            `${new Date(Y + 4 * HOUR).toISOString()},sensor-1,19.25,46`,
            '',
        ].join('\n');
        const r = await request('GET', `${red.base}/perch/report.csv`);
        assert.equal(r.status, 200, r.text);
        assert.equal(r.headers['content-type'], 'text/csv; charset=utf-8');
        assert.equal(r.headers['content-disposition'], 'attachment; filename="env-report.csv"');
        assert.equal(r.text, want);

        const file = path.join(tmp, 'perch-env-report.csv');
        await admin('POST', `/inject/${ids['Mondays at 06:00']}`);
        const text = await eventually('the report file', () => fs.existsSync(file) && fs.readFileSync(file, 'utf8') === want && want);
        assert.equal(text, want);
    });

    it('streams the gateway\'s events and lists the devices (perch events, perch device)', async function () {
        await sensor.endAsync();
        sensor = null;
        const state = await eventually('sensor-1\'s disconnection', async () => {
            const s = await probe();
            return s.events.some((e) => e.type === 'device_disconnected' && e.device === 'sensor-1') && s;
        });
        const mine = state.events.filter((e) => e.device === 'sensor-1');
        assert.deepEqual(mine.map((e) => `${e.type} ${e.bucket || ''}`), [
            'device_connected ', 'bucket_write env', 'bucket_write env', 'bucket_write env', 'bucket_write env',
            'bucket_write env_daily', 'device_disconnected ',
        ]);
        assert.equal(mine[0].listener, 'tls');
        assert.equal(mine[0].protocol_version, 4);
        assert.deepEqual(mine.slice(1, 5).map((e) => [e.ts, e.topic, e.values]),
            POINTS.map((p) => [p.ts, 'sensors/sensor-1/env', { temp: p.temp, hum: p.hum }]));
        assert.deepEqual([mine[5].ts, mine[5].topic, mine[5].values], [Y, '', { temp: 23.0625, hum: 43 }]);

        await admin('POST', '/inject/e2e-inject');
        const devices = await eventually('the device list', async () => (await probe()).devices);
        const byId = Object.fromEntries(devices.map((d) => [d.id, d]));
        assert.deepEqual(Object.keys(byId).sort(), ['node-red', 'sensor-1']);
        assert.equal(byId['node-red'].status.connected, true);
        assert.equal(byId['sensor-1'].status.connected, false);
        assert.ok(byId['sensor-1'].status.last_seen, 'sensor-1 was seen');
    });

    it('published exactly one alert', function () {
        assert.equal(alerts.length, 1, JSON.stringify(alerts));
    });
});

/**
 * probeFlow is the test's own tab: a perch events node collecting the
 * gateway's events and its status, a perch device node listing the
 * devices, and GET /e2e/state to read what they saw.
 */
function probeFlow(gateway) {
    const z = 'e2e0000000000001';
    const fn = (id, func, wires, y) => ({ id, type: 'function', z, name: id, func, outputs: 1, timeout: 0, noerr: 0, initialize: '', finalize: '', libs: [], x: 400, y, wires });
    return [
        { id: z, type: 'tab', label: 'e2e probe', disabled: false, info: '' },
        { id: 'e2e-events', type: 'perch-events', z, name: 'events', gateway, connected: true, disconnected: true, writes: true, device: '', bucket: '', retry: 1, maxRetry: 5, x: 150, y: 60, wires: [['e2e-collect']] },
        fn('e2e-collect', "const e = flow.get('events') || [];\ne.push(msg.payload);\nflow.set('events', e);\nreturn null;", [[]], 60),
        { id: 'e2e-status', type: 'status', z, name: '', scope: ['e2e-events'], x: 150, y: 120, wires: [['e2e-keep-status']] },
        fn('e2e-keep-status', "flow.set('status', msg.status.text);\nreturn null;", [[]], 120),
        { id: 'e2e-inject', type: 'inject', z, name: 'list devices', props: [{ p: 'payload' }], repeat: '', crontab: '', once: false, onceDelay: 0.1, topic: '', payload: '', payloadType: 'date', x: 150, y: 180, wires: [['e2e-devices']] },
        { id: 'e2e-devices', type: 'perch-device', z, name: '', gateway, action: 'list', device: '', x: 300, y: 180, wires: [['e2e-keep-devices']] },
        fn('e2e-keep-devices', "flow.set('devices', msg.payload);\nreturn null;", [[]], 180),
        { id: 'e2e-http', type: 'http in', z, name: '', url: '/e2e/state', method: 'get', upload: false, swaggerDoc: '', x: 150, y: 240, wires: [['e2e-state']] },
        fn('e2e-state', "msg.payload = { events: flow.get('events') || [], status: flow.get('status') || '', devices: flow.get('devices') || null };\nreturn msg;", [['e2e-response']], 240),
        { id: 'e2e-response', type: 'http response', z, name: '', statusCode: '', headers: {}, x: 600, y: 240, wires: [] },
    ];
}
