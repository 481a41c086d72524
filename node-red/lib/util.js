'use strict';
// Helpers shared by the Perch nodes.

/** present reports whether a msg property or setting was given. */
function present(v) {
    return v !== undefined && v !== null && v !== '';
}

/** pick returns the msg property when given, else the node's setting. */
function pick(msgValue, setting) {
    return present(msgValue) ? msgValue : setting;
}

/**
 * toTime turns a time given in a msg or a setting into one the gateway
 * takes: a Date or a number becomes epoch ms; a string (epoch ms, RFC 3339,
 * "now" or a relative time such as -1h) is passed on as it is.
 */
function toTime(v, name) {
    if (!present(v)) return undefined;
    if (v instanceof Date) {
        if (Number.isNaN(v.getTime())) throw new Error(`${name} is an invalid Date`);
        return String(v.getTime());
    }
    if (typeof v === 'number') {
        if (!Number.isFinite(v) || v < 0) throw new Error(`${name} must be a time: epoch ms, RFC 3339, or relative like -1h; not ${v}`);
        return String(Math.floor(v));
    }
    if (typeof v === 'string') return v.trim();
    throw new Error(`${name} must be a time: a Date, epoch ms, an RFC 3339 string or a relative time like -1h; not ${typeof v}`);
}

/** relative turns "1h", "-1h" or "last 1h" into "-1h". */
function relative(v) {
    const s = String(v).trim().replace(/^last\s+/i, '').replace(/^-/, '');
    return s ? '-' + s : undefined;
}

/** list turns an array or a comma-separated string into "a,b" (or undefined). */
function list(v) {
    if (!present(v)) return undefined;
    const items = (Array.isArray(v) ? v : String(v).split(',')).map((s) => String(s).trim()).filter(Boolean);
    return items.length ? items.join(',') : undefined;
}

/** short cuts a message down for a status badge. */
function short(text, n = 40) {
    const s = String(text);
    return s.length > n ? s.slice(0, n - 1) + '…' : s;
}

/**
 * gateway returns the client of the node's perch-gateway config node, or
 * null after showing why there is none.
 */
function gateway(RED, node, id) {
    const gw = RED.nodes.getNode(id);
    if (!gw || !gw.client) {
        node.status({ fill: 'red', shape: 'ring', text: 'no gateway configured' });
        node.error('no perch-gateway configured: choose or add one in the node\'s settings');
        return null;
    }
    if (gw.client.error) {
        node.status({ fill: 'red', shape: 'ring', text: short(gw.client.error.message) });
    }
    return gw.client;
}

/**
 * failed shows an error on the node and hands it to Node-RED with the
 * message, so that Catch nodes see it (msg.error).
 */
function failed(node, err, done) {
    node.status({ fill: 'red', shape: 'ring', text: short(err.message || err) });
    done(err);
}

/** path encodes an id for a URL path segment. */
function seg(id) {
    return encodeURIComponent(String(id));
}

module.exports = { present, pick, toTime, relative, list, short, gateway, failed, seg };
