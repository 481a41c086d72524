'use strict';

const { PerchClient } = require('../lib/client');

module.exports = function (RED) {
    // perch-gateway is the config node of a Perch gateway: its API URL, an
    // API token (kept in Node-RED's credential store) and how its TLS
    // certificate is verified.
    function PerchGatewayNode(config) {
        RED.nodes.createNode(this, config);
        this.name = config.name;
        this.url = config.url;
        const creds = this.credentials || {};
        this.client = new PerchClient({
            url: config.url,
            token: creds.token,
            tls: { mode: config.tls || 'ca', ca: config.ca, caFile: config.caFile, fingerprint: config.fingerprint },
        });
        if (this.client.error) {
            this.error(`perch-gateway ${config.name || config.url || ''}: ${this.client.error.message}`);
        }
        this.on('close', () => this.client.close());
    }

    RED.nodes.registerType('perch-gateway', PerchGatewayNode, {
        credentials: { token: { type: 'password' } },
    });
};
