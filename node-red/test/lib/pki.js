'use strict';
// Test certificates made at test time with node:crypto alone: an ECDSA
// P-256 CA and server certificates it signs, written in DER by hand (Node
// has no API to issue certificates). Nothing here is kept on disk.

const crypto = require('node:crypto');

// --- DER ---

function len(n) {
    if (n < 0x80) return Buffer.from([n]);
    const bytes = [];
    for (let v = n; v > 0; v >>= 8) bytes.unshift(v & 0xff);
    return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function tlv(tag, ...parts) {
    const body = Buffer.concat(parts);
    return Buffer.concat([Buffer.from([tag]), len(body.length), body]);
}

const seq = (...p) => tlv(0x30, ...p);
const set = (...p) => tlv(0x31, ...p);
const octets = (b) => tlv(0x04, b);
const bits = (b, unused = 0) => tlv(0x03, Buffer.from([unused]), b);
const bool = (v) => tlv(0x01, Buffer.from([v ? 0xff : 0]));
const explicit = (n, ...p) => tlv(0xa0 + n, ...p);

function int(b) {
    let buf = Buffer.isBuffer(b) ? b : Buffer.from([b]);
    while (buf.length > 1 && buf[0] === 0 && !(buf[1] & 0x80)) buf = buf.subarray(1);
    if (buf[0] & 0x80) buf = Buffer.concat([Buffer.from([0]), buf]);
    return tlv(0x02, buf);
}

function oid(s) {
    const n = s.split('.').map(Number);
    const out = [40 * n[0] + n[1]];
    for (const v of n.slice(2)) {
        const b = [v & 0x7f];
        for (let x = v >>> 7; x > 0; x >>>= 7) b.unshift(0x80 | (x & 0x7f));
        out.push(...b);
    }
    return tlv(0x06, Buffer.from(out));
}

function time(d) {
    const s = d.toISOString().replace(/[-:T]/g, '').slice(2, 14) + 'Z'; // YYMMDDHHMMSSZ
    return tlv(0x17, Buffer.from(s, 'ascii'));
}

function name(cn) {
    return seq(set(seq(oid('2.5.4.3'), tlv(0x0c, Buffer.from(cn, 'utf8')))));
}

function ext(id, critical, value) {
    return critical ? seq(oid(id), bool(true), octets(value)) : seq(oid(id), octets(value));
}

const ECDSA_SHA256 = seq(oid('1.2.840.10045.4.3.2'));

function keyID(spki) {
    // An uncompressed P-256 point is the last 65 bytes of its SPKI.
    return crypto.createHash('sha1').update(spki.subarray(spki.length - 65)).digest();
}

function pem(der) {
    const b64 = der.toString('base64').match(/.{1,64}/g).join('\n');
    return `-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`;
}

/**
 * issue makes a certificate for a new P-256 key: a CA (self-signed when no
 * issuer) or a server certificate for dns names and IP addresses.
 */
function issue({ cn, ca = false, issuer = null, dns = [], ips = [], days = 1 }) {
    const { publicKey, privateKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const spki = publicKey.export({ type: 'spki', format: 'der' });
    const signer = issuer || { cn, key: privateKey, spki };
    const serial = crypto.randomBytes(16);
    serial[0] = (serial[0] & 0x7f) | 0x01;
    const now = Date.now();
    const exts = [
        ext('2.5.29.19', true, ca ? seq(bool(true)) : seq()), // basicConstraints
        ext('2.5.29.15', true, ca ? bits(Buffer.from([0x86]), 1) : bits(Buffer.from([0x80]), 7)), // keyUsage
        ext('2.5.29.14', false, octets(keyID(spki))), // subjectKeyIdentifier
        ext('2.5.29.35', false, seq(tlv(0x80, keyID(signer.spki)))), // authorityKeyIdentifier
    ];
    if (!ca) {
        exts.push(ext('2.5.29.37', false, seq(oid('1.3.6.1.5.5.7.3.1')))); // extKeyUsage: serverAuth
        const alt = [
            ...dns.map((d) => tlv(0x82, Buffer.from(d, 'ascii'))),
            ...ips.map((ip) => tlv(0x87, Buffer.from(ip.split('.').map(Number)))),
        ];
        exts.push(ext('2.5.29.17', false, seq(...alt))); // subjectAltName
    }
    const tbs = seq(
        explicit(0, int(2)),
        int(serial),
        ECDSA_SHA256,
        name(signer.cn),
        seq(time(new Date(now - 3600e3)), time(new Date(now + days * 86400e3))),
        name(cn),
        spki,
        explicit(3, seq(...exts)),
    );
    const sig = crypto.sign('sha256', tbs, signer.key);
    const der = seq(tbs, ECDSA_SHA256, bits(sig));
    const x = new crypto.X509Certificate(der);
    return {
        cn,
        der,
        pem: pem(der),
        key: privateKey,
        keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }),
        spki,
        fingerprint: x.fingerprint256, // "AB:CD:...", as Perch prints it
        x509: x,
    };
}

/** ca makes a self-signed CA. */
function makeCA(cn = 'Test CA') {
    return issue({ cn, ca: true, days: 30 });
}

/** server makes a server certificate (for localhost and 127.0.0.1 unless told otherwise), signed by ca. */
function makeServer(ca, { cn = 'localhost', dns = ['localhost'], ips = ['127.0.0.1'] } = {}) {
    return issue({ cn, issuer: ca, dns, ips });
}

module.exports = { makeCA, makeServer };
