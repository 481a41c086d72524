'use strict';
// A small client of Perch's HTTPS JSON API (/api/v1), on Node's own https,
// tls and zlib modules. TLS is always verified: against a CA certificate
// (PEM), against the system's CAs, or against the gateway's CA found by its
// SHA-256 fingerprint in the chain the gateway presents.

const https = require('node:https');
const tls = require('node:tls');
const net = require('node:net');
const fs = require('node:fs');
const zlib = require('node:zlib');
const { X509Certificate } = require('node:crypto');
const { EventEmitter } = require('node:events');
const { SSEParser } = require('./sse');

const USER_AGENT = 'node-red-contrib-perch/' + require('../package.json').version;

/** An error of the gateway (status, code and field from its JSON error) or of the connection. */
class PerchError extends Error {
    constructor(message, { status, code, field, cause } = {}) {
        super(message, cause ? { cause } : undefined);
        this.name = 'PerchError';
        if (status !== undefined) this.status = status;
        if (code !== undefined) this.code = code;
        if (field !== undefined) this.field = field;
    }
}

/**
 * normalizeFingerprint returns a SHA-256 fingerprint as Perch prints it
 * (upper-case hex bytes separated by colons, "AB:CD:..."), from hex with or
 * without colons or spaces, in either case, optionally prefixed "sha256:"
 * or "SHA256 Fingerprint=" (openssl's output). It throws on anything else.
 */
function normalizeFingerprint(fp) {
    const hex = String(fp || '')
        .trim()
        .replace(/^sha-?256( fingerprint)?\s*[:=]?\s*/i, '')
        .replace(/[\s:]/g, '')
        .toUpperCase();
    if (!/^[0-9A-F]{64}$/.test(hex)) {
        throw new PerchError('the CA fingerprint must be a SHA-256 fingerprint: 32 bytes in hex, as `perch serve` prints it (AB:CD:...:EF)', { code: 'bad_config' });
    }
    return hex.match(/../g).join(':');
}

/** parseURL checks the gateway's address: https, host, optional port and path prefix. */
function parseURL(url) {
    let u;
    try {
        u = new URL(String(url || '').trim());
    } catch {
        throw new PerchError(`the gateway URL ${JSON.stringify(url || '')} is not a URL; write it as https://raspberrypi.local:8443`, { code: 'bad_config' });
    }
    if (u.protocol !== 'https:') {
        throw new PerchError(`the gateway URL must start with https:// (Perch's API is served over TLS only), not ${u.protocol}//`, { code: 'bad_config' });
    }
    if (u.username || u.password || u.search || u.hash) {
        throw new PerchError('the gateway URL must have no user, password, query or fragment: the API token goes in its own field', { code: 'bad_config' });
    }
    const hostname = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname;
    const prefix = u.pathname.replace(/\/+$/, '').replace(/\/api\/v1$/, '');
    return { origin: u.origin, hostname, port: Number(u.port) || 443, prefix };
}

/** findInChain returns the certificate of a peer chain (getPeerCertificate(true)) with fingerprint fp, or null. */
function findInChain(cert, fp) {
    const seen = new Set();
    for (let c = cert; c && c.raw && !seen.has(c); c = c.issuerCertificate) {
        seen.add(c);
        if (c.fingerprint256 === fp) return c;
    }
    return null;
}

function chainFingerprints(cert) {
    const out = [];
    const seen = new Set();
    for (let c = cert; c && c.raw && !seen.has(c); c = c.issuerCertificate) {
        seen.add(c);
        out.push(c.fingerprint256);
    }
    return out;
}

const TLS_ERROR = /CERT|SIGNATURE|ISSUER|TLS|SSL|SELF_SIGNED|FINGERPRINT/;

/**
 * PerchClient talks to one gateway. Options:
 *   url          https://host:8443 (a path prefix is kept; /api/v1 is added)
 *   token        an API token (perch token create NAME)
 *   tls          { mode: 'ca' | 'fingerprint' | 'system', ca: PEM text, caFile: path, fingerprint }
 *   timeout      ms without a byte from the gateway before a request fails (default 30 s)
 * A bad option does not throw: client.error is set and every request fails with it.
 */
class PerchClient {
    constructor(opts = {}) {
        this.timeout = opts.timeout > 0 ? opts.timeout : 30000;
        this.error = null;
        this.agent = null;
        this.learned = null; // fingerprint mode: the promise of the CA's PEM
        try {
            this.target = parseURL(opts.url);
            if (!opts.token) {
                throw new PerchError('no API token: create one on the gateway with `perch token create node-red`', { code: 'bad_config' });
            }
            this.token = String(opts.token).trim();
            const t = opts.tls || {};
            this.mode = t.mode || 'ca';
            switch (this.mode) {
            case 'ca': {
                let pem = String(t.ca || '').trim();
                if (!pem && t.caFile) {
                    try {
                        pem = fs.readFileSync(t.caFile, 'utf8');
                    } catch (err) {
                        throw new PerchError(`cannot read the CA file ${t.caFile}: ${err.message}`, { code: 'bad_config', cause: err });
                    }
                }
                if (!pem) {
                    throw new PerchError('no CA certificate: paste the gateway\'s CA (`perch ca export`), name a CA file, or give its fingerprint', { code: 'bad_config' });
                }
                try {
                    new X509Certificate(pem); // eslint-disable-line no-new
                } catch (err) {
                    throw new PerchError(`the CA certificate is not a PEM certificate: ${err.message}`, { code: 'bad_config', cause: err });
                }
                this.agent = this.newAgent({ ca: pem });
                break;
            }
            case 'system':
                this.agent = this.newAgent({});
                break;
            case 'fingerprint':
                this.fingerprint = normalizeFingerprint(t.fingerprint);
                break;
            default:
                throw new PerchError(`unknown TLS mode ${JSON.stringify(this.mode)}: use ca, fingerprint or system`, { code: 'bad_config' });
            }
        } catch (err) {
            this.error = err instanceof PerchError ? err : new PerchError(err.message, { code: 'bad_config', cause: err });
        }
    }

    newAgent(extra) {
        // Idle connections are closed before the gateway's own idle timeout
        // (120 s) can close them under a new request.
        const opts = { keepAlive: true, timeout: 60000, maxSockets: 8, minVersion: 'TLSv1.2', rejectUnauthorized: true, ...extra };
        if (this.fingerprint) {
            const fp = this.fingerprint;
            // The CA learnt by fingerprint is the trust anchor; check again
            // that it is what the gateway's chain leads to.
            opts.checkServerIdentity = (host, cert) => {
                const err = tls.checkServerIdentity(host, cert);
                if (err) return err;
                if (!findInChain(cert, fp)) {
                    return new PerchError(`the gateway's certificate chain has no certificate with the fingerprint ${fp}`, { code: 'FINGERPRINT_MISMATCH' });
                }
                return undefined;
            };
        }
        return new https.Agent(opts);
    }

    /**
     * learnCA (fingerprint mode) opens a TLS connection that sends nothing,
     * finds the CA certificate with the pinned fingerprint in the chain the
     * gateway presents, and makes it the trust anchor of every request. A
     * chain without it fails: nothing, least of all the token, is sent.
     */
    learnCA() {
        if (this.learned) return this.learned;
        const { hostname, port } = this.target;
        const fp = this.fingerprint;
        this.learned = new Promise((resolve, reject) => {
            const sock = tls.connect({
                host: hostname,
                port,
                servername: net.isIP(hostname) ? undefined : hostname,
                rejectUnauthorized: false, // judged below, by the fingerprint; the real requests verify fully
                minVersion: 'TLSv1.2',
                ALPNProtocols: ['http/1.1'],
            });
            sock.setTimeout(this.timeout, () => sock.destroy(new PerchError(`no TLS handshake with ${this.target.origin} within ${this.timeout / 1000} s`, { code: 'ETIMEDOUT' })));
            sock.once('error', (err) => reject(err instanceof PerchError ? err : new PerchError(`cannot reach ${this.target.origin}: ${err.message}`, { code: err.code, cause: err })));
            sock.once('secureConnect', () => {
                const chain = sock.getPeerCertificate(true);
                sock.destroy();
                const c = findInChain(chain, fp);
                if (!c) {
                    reject(new PerchError(`the gateway at ${this.target.origin} presented no certificate with the CA fingerprint ${fp} ` +
                        `(its chain: ${chainFingerprints(chain).join(', ') || 'empty'}); check the fingerprint that \`perch serve\` prints, ` +
                        'or that this is your gateway', { code: 'FINGERPRINT_MISMATCH' }));
                    return;
                }
                const x = new X509Certificate(c.raw);
                if (!x.ca) {
                    reject(new PerchError(`the certificate with the fingerprint ${fp} is not a CA certificate: pin the gateway's CA (perch ca export), not its server certificate`, { code: 'FINGERPRINT_MISMATCH' }));
                    return;
                }
                resolve(x.toString());
            });
        }).then((pem) => {
            if (this.closed) throw new PerchError('the gateway configuration was closed', { code: 'closed' });
            this.agent = this.newAgent({ ca: pem });
            return pem;
        }, (err) => {
            this.learned = null;
            throw err;
        });
        return this.learned;
    }

    async ready() {
        if (this.error) throw this.error;
        if (this.closed) throw new PerchError('the gateway configuration was closed', { code: 'closed' });
        if (this.mode === 'fingerprint') await this.learnCA();
        return this.agent;
    }

    /** forget drops a CA learnt by fingerprint after a TLS failure: the next request checks the fingerprint again. */
    forget(err) {
        if (this.mode === 'fingerprint' && err && TLS_ERROR.test(String(err.code || ''))) {
            this.learned = null;
            if (this.agent) this.agent.destroy();
            this.agent = null;
        }
    }

    path(p, query) {
        let out = this.target.prefix + p;
        const qs = new URLSearchParams();
        for (const [k, v] of Object.entries(query || {})) {
            if (v === undefined || v === null || v === '') continue;
            qs.append(k, String(v));
        }
        const s = qs.toString();
        return s ? `${out}?${s}` : out;
    }

    /**
     * send starts a request and resolves with the response once its headers
     * are in. A GET on a kept-alive connection that the gateway closed
     * meanwhile is sent again, once, on a new one.
     */
    async send(method, p, opts = {}, retried = false) {
        try {
            return await this.sendOnce(method, p, opts);
        } catch (err) {
            if (!retried && err.reusedSocket && (method === 'GET' || method === 'HEAD') && err.code === 'ECONNRESET') {
                return this.send(method, p, opts, true);
            }
            throw err;
        }
    }

    async sendOnce(method, p, { query, body, accept = 'application/json', headers = {} } = {}) {
        const agent = await this.ready();
        const h = {
            Authorization: `Bearer ${this.token}`,
            Accept: accept,
            'Accept-Encoding': 'gzip',
            'User-Agent': USER_AGENT,
            ...headers,
        };
        let data;
        if (body !== undefined) {
            data = Buffer.isBuffer(body) ? body : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body), 'utf8');
            h['Content-Type'] = 'application/json';
            h['Content-Length'] = data.length;
        } else if (method !== 'GET' && method !== 'HEAD') {
            h['Content-Length'] = 0;
        }
        const { hostname, port } = this.target;
        return new Promise((resolve, reject) => {
            const req = https.request({ hostname, port, method, path: this.path(p, query), headers: h, agent });
            req.setTimeout(this.timeout, () => req.destroy(new PerchError(`no answer from ${this.target.origin} within ${this.timeout / 1000} s`, { code: 'ETIMEDOUT' })));
            req.once('error', (err) => {
                this.forget(err);
                const e = err instanceof PerchError ? err : new PerchError(`cannot reach ${this.target.origin}: ${err.message}`, { code: err.code, cause: err });
                e.reusedSocket = req.reusedSocket;
                reject(e);
            });
            req.once('response', (res) => {
                let stream = res;
                if (/\bgzip\b/i.test(res.headers['content-encoding'] || '')) {
                    stream = res.pipe(zlib.createGunzip());
                    res.once('error', (err) => stream.destroy(err));
                }
                resolve({ req, res, stream });
            });
            req.end(data);
        });
    }

    /** request sends a request and resolves with { status, headers, body (a Buffer) }; a gateway error rejects with a PerchError. */
    async request(method, p, opts = {}) {
        const { res, stream } = await this.send(method, p, opts);
        const body = await new Promise((resolve, reject) => {
            const chunks = [];
            stream.on('data', (c) => chunks.push(c));
            stream.once('end', () => resolve(Buffer.concat(chunks)));
            stream.once('error', (err) => reject(new PerchError(`reading the answer of ${this.target.origin}: ${err.message}`, { code: err.code, cause: err })));
            res.once('aborted', () => reject(new PerchError(`the answer of ${this.target.origin} was cut short`, { code: 'ECONNRESET' })));
        });
        if (res.statusCode >= 400) throw errorOf(res.statusCode, body);
        return { status: res.statusCode, headers: res.headers, body };
    }

    /** json sends a request and resolves with its parsed JSON answer (or null for 204). */
    async json(method, p, opts = {}) {
        const r = await this.request(method, p, opts);
        if (r.status === 204 || r.body.length === 0) return null;
        try {
            return JSON.parse(r.body.toString('utf8'));
        } catch (err) {
            throw new PerchError(`the gateway's answer to ${method} ${p} is not JSON: ${err.message}`, { status: r.status, code: 'bad_answer', cause: err });
        }
    }

    /**
     * stream opens a server-sent event stream. It resolves, once the gateway
     * accepted it, with an EventEmitter that emits 'event' ({ event, data,
     * id }) and then 'close' (err, or null when the gateway ended it), and
     * whose close() ends it. No byte for idleTimeout ms (the gateway sends a
     * comment every 15 s) ends it with an error.
     */
    async stream(p, { query, idleTimeout = 45000 } = {}) {
        const { req, res, stream } = await this.send('GET', p, { query, accept: 'text/event-stream' });
        if (res.statusCode !== 200) {
            const body = await new Promise((resolve) => {
                const chunks = [];
                stream.on('data', (c) => chunks.push(c));
                stream.once('end', () => resolve(Buffer.concat(chunks)));
                stream.once('error', () => resolve(Buffer.concat(chunks)));
            });
            throw errorOf(res.statusCode, body);
        }
        const em = new EventEmitter();
        let closed = false;
        const finish = (err) => {
            if (closed) return;
            closed = true;
            req.destroy();
            em.emit('close', err || null);
        };
        em.close = () => finish(null);
        const parser = new SSEParser((ev) => {
            if (!closed) em.emit('event', ev);
        });
        req.setTimeout(idleTimeout, () => finish(new PerchError(`no data from ${this.target.origin} for ${idleTimeout / 1000} s`, { code: 'ETIMEDOUT' })));
        stream.setEncoding('utf8');
        stream.on('data', (chunk) => parser.push(chunk));
        stream.once('end', () => finish(null));
        stream.once('error', (err) => finish(new PerchError(`the event stream from ${this.target.origin} failed: ${err.message}`, { code: err.code, cause: err })));
        res.once('aborted', () => finish(new PerchError(`the event stream from ${this.target.origin} was cut`, { code: 'ECONNRESET' })));
        req.once('error', (err) => finish(err instanceof PerchError ? err : new PerchError(`the event stream from ${this.target.origin} failed: ${err.message}`, { code: err.code, cause: err })));
        return em;
    }

    close() {
        this.closed = true;
        if (this.agent) this.agent.destroy();
        this.agent = null;
    }
}

/** errorOf turns an error answer ({"error": {status, code, field, message}}) into a PerchError. */
function errorOf(status, body) {
    let e = {};
    try {
        e = JSON.parse(body.toString('utf8')).error || {};
    } catch {
        e = { message: body.toString('utf8').slice(0, 200).trim() };
    }
    const code = e.code || 'http_' + status;
    const msg = e.message || `HTTP ${status}`;
    return new PerchError(`${status} ${code}${e.field ? ' (' + e.field + ')' : ''}: ${msg}`, { status, code, field: e.field });
}

module.exports = { PerchClient, PerchError, normalizeFingerprint, parseURL };
