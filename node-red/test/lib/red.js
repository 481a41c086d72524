'use strict';
// Shared set-up of the node tests: node-red-node-test-helper on the
// node-red devDependency, the package's nodes, Node-RED's own Catch node,
// and a flow with a perch-gateway config node pointing at a MockPerch.

const helper = require('node-red-node-test-helper');

helper.init(require.resolve('node-red'));

const nodes = {
    gateway: require('../../nodes/perch-gateway.js'),
    read: require('../../nodes/perch-bucket-read.js'),
    write: require('../../nodes/perch-bucket-write.js'),
    device: require('../../nodes/perch-device.js'),
    events: require('../../nodes/perch-events.js'),
    catch: require('@node-red/nodes/core/common/25-catch.js'),
};

/** flow returns the nodes of a test flow: a gateway for mock, the nodes given, a Catch node wired to "caught". */
function flow(mock, ...extra) {
    return [
        { id: 'f1', type: 'tab', label: 'test' },
        { id: 'gw', type: 'perch-gateway', url: mock.url, tls: 'ca', ca: mock.ca.pem },
        // (nodes with a position are flow nodes; without one, config nodes)
        ...extra.map((n) => ({ z: 'f1', x: 100, y: 100, ...n })),
        { id: 'catch', type: 'catch', z: 'f1', x: 100, y: 200, scope: null, uncaught: false, wires: [['caught']] },
        { id: 'out', type: 'helper', z: 'f1', x: 300, y: 100 },
        { id: 'caught', type: 'helper', z: 'f1', x: 300, y: 200 },
    ];
}

const credentials = { gw: { token: 'test-token' } };

/** load loads a flow with the package's nodes and Node-RED's Catch node. */
function load(flowNodes, creds = credentials) {
    return new Promise((resolve, reject) => {
        helper.load(Object.values(nodes), flowNodes, creds, (err) => (err ? reject(err) : resolve()));
    });
}

/** next resolves with the next message a helper node receives. */
function next(id, ms = 5000) {
    const n = helper.getNode(id);
    return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no message at ${id} within ${ms} ms`)), ms);
        n.once('input', (msg) => {
            clearTimeout(t);
            resolve(msg);
        });
    });
}

/** calls lists the arguments of a node's calls to a Node method (status, warn, error), as the test helper spies them. */
function calls(node, method) {
    return node[method].getCalls().filter((c) => c.thisValue === node).map((c) => c.args);
}

/** lastStatus is the node's latest status badge. */
function lastStatus(node) {
    const s = calls(node, 'status');
    return s.length ? s[s.length - 1][0] : undefined;
}

module.exports = { helper, flow, load, next, calls, lastStatus, credentials };
