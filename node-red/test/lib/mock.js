'use strict';
// A stand-in for a Perch gateway's API in unit tests: an HTTPS server on
// 127.0.0.1 with a CA made for the test, serving its certificate followed
// by the CA's (as Perch does), recording every request. Each test sets
// handler(req, res, body) to answer.

const https = require('node:https');
const { makeCA, makeServer } = require('./pki');

class MockPerch {
    constructor({ chain = true, names } = {}) {
        this.ca = makeCA('Mock Perch CA');
        this.cert = makeServer(this.ca, names);
        this.requests = [];
        this.sockets = new Set();
        this.handler = null;
        this.server = https.createServer({
            key: this.cert.keyPem,
            cert: chain ? this.cert.pem + this.ca.pem : this.cert.pem,
        }, (req, res) => this.serve(req, res));
        this.server.on('secureConnection', (s) => {
            this.sockets.add(s);
            s.once('close', () => this.sockets.delete(s));
        });
        this.handshakes = 0;
        this.server.on('secureConnection', () => this.handshakes++);
    }

    start() {
        return new Promise((resolve) => {
            this.server.listen(0, '127.0.0.1', () => {
                this.port = this.server.address().port;
                this.url = `https://127.0.0.1:${this.port}`;
                resolve(this);
            });
        });
    }

    serve(req, res) {
        const chunks = [];
        req.on('data', (c) => chunks.push(c));
        req.on('end', () => {
            const raw = Buffer.concat(chunks).toString('utf8');
            const u = new URL(req.url, 'https://x');
            const r = {
                method: req.method,
                path: u.pathname,
                query: Object.fromEntries(u.searchParams),
                search: u.search,
                headers: req.headers,
                raw,
                body: raw ? safeJSON(raw) : undefined,
            };
            this.requests.push(r);
            if (req.headers.authorization !== 'Bearer test-token') {
                json(res, 401, { error: { status: 401, code: 'unauthorized', message: 'invalid API token' } });
                return;
            }
            if (!this.handler) {
                json(res, 404, { error: { status: 404, code: 'not_found', message: `no such route: ${req.method} ${u.pathname}` } });
                return;
            }
            this.handler(r, res);
        });
    }

    /** waitFor resolves once cond() holds, polling on the event loop (no fixed sleeps). */
    async waitFor(what, cond, ms = 5000) {
        const deadline = Date.now() + ms;
        while (!cond()) {
            if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
            await new Promise((r) => setTimeout(r, 10));
        }
    }

    stop() {
        for (const s of this.sockets) s.destroy();
        return new Promise((resolve) => this.server.close(() => resolve()));
    }
}

function safeJSON(s) {
    try {
        return JSON.parse(s);
    } catch {
        return undefined;
    }
}

function json(res, status, v) {
    const b = JSON.stringify(v);
    res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(b) });
    res.end(b);
}

module.exports = { MockPerch, json };
