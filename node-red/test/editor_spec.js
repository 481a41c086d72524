'use strict';
// The editor side of every node (nodes/*.html): its script runs and
// registers the type with the defaults the runtime reads, every input of
// its edit dialog is one of those defaults, and it has help. A broken
// script here would break the whole Node-RED editor.

const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');

const pkg = require('../package.json');

function load(file) {
    const html = fs.readFileSync(file, 'utf8');
    const scripts = [...html.matchAll(/<script type="text\/javascript">([\s\S]*?)<\/script>/g)].map((m) => m[1]);
    const templates = Object.fromEntries([...html.matchAll(/<script type="text\/html" data-template-name="([^"]+)">([\s\S]*?)<\/script>/g)].map((m) => [m[1], m[2]]));
    const help = Object.fromEntries([...html.matchAll(/<script type="text\/html" data-help-name="([^"]+)">([\s\S]*?)<\/script>/g)].map((m) => [m[1], m[2]]));
    const registered = {};
    const jq = () => ({ val: () => undefined, on() {}, toggle() {}, length: 0 });
    const RED = {
        nodes: { registerType: (type, def) => { registered[type] = def; } },
        validators: {
            regex: (re) => (v) => re.test(v),
            number: () => (v) => !Number.isNaN(Number(v)),
        },
        _: (k) => k,
    };
    for (const s of scripts) vm.runInNewContext(s, { RED, $: jq });
    return { registered, templates, help };
}

describe('the editor definitions', function () {
    for (const [type, js] of Object.entries(pkg['node-red'].nodes)) {
        it(`${type}: registers its type, with an edit dialog on its defaults and help`, function () {
            const file = path.join(__dirname, '..', js.replace(/\.js$/, '.html'));
            const { registered, templates, help } = load(file);
            assert.deepEqual(Object.keys(registered), [type]);
            const def = registered[type];
            const config = def.category === 'config';
            assert.equal(def.category, type === 'perch-gateway' ? 'config' : 'Perch');
            if (!config) {
                assert.equal(def.defaults.gateway.type, 'perch-gateway');
                assert.equal(def.defaults.gateway.required, true);
                assert.match(def.icon, /^font-awesome\/fa-/);
            }
            const prefix = config ? 'node-config-input-' : 'node-input-';
            const inputs = [...templates[type].matchAll(new RegExp(`id="${prefix}([A-Za-z]+)"`, 'g'))].map((m) => m[1]);
            const known = [...Object.keys(def.defaults), ...Object.keys(def.credentials || {})];
            assert.deepEqual(inputs.filter((i) => !known.includes(i)), [], 'inputs that are no setting');
            assert.deepEqual(known.filter((k) => !inputs.includes(k)), [], 'settings without an input');
            assert.match(help[type], /<p>/);
            assert.equal(typeof def.label.call({ ...Object.fromEntries(Object.entries(def.defaults).map(([k, v]) => [k, v.value])) }), 'string');
        });
    }

    it('perch-gateway keeps the token in the credential store and checks fingerprints', function () {
        const { registered } = load(path.join(__dirname, '..', 'nodes', 'perch-gateway.html'));
        const def = registered['perch-gateway'];
        assert.deepEqual(JSON.parse(JSON.stringify(def.credentials)), { token: { type: 'password' } }); // (from another realm)
        assert.equal(def.defaults.token, undefined);
        const fp = def.defaults.fingerprint.validate;
        const good = Array(32).fill('ab').join(':');
        assert.equal(fp.call({ tls: 'fingerprint' }, good), true);
        assert.equal(fp.call({ tls: 'fingerprint' }, good.replace(/:/g, '').toUpperCase()), true);
        assert.equal(fp.call({ tls: 'fingerprint' }, 'AB:CD'), false);
        assert.equal(fp.call({ tls: 'ca' }, ''), true);
        assert.equal(def.defaults.url.validate('https://raspberrypi.local:8443'), true);
        assert.equal(def.defaults.url.validate('http://raspberrypi.local:8443'), false);
    });
});
