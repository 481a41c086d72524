'use strict';
// follow keeps a server-sent event stream of the gateway open: it
// reconnects after a failure or an end, waiting minDelay, then twice as
// long after each failure in a row, up to maxDelay. A stream that stayed
// open for at least a minute starts the wait over from minDelay. Answers
// that another try cannot fix (400, 401, 403, 404) stop it.

const FATAL = new Set([400, 401, 403, 404]);
const STABLE = 60000;

/**
 * follow(client, path, opts) starts following; opts:
 *   query                query parameters
 *   minDelay, maxDelay   ms (defaults 1000, 60000)
 *   onEvent(ev)          each event ({ event, data, id })
 *   onState(state, info) 'connecting' | 'open' | 'waiting' ({ delay, error }) | 'stopped' ({ error })
 * It returns { stop() }.
 */
function follow(client, path, opts = {}) {
    const minDelay = opts.minDelay > 0 ? opts.minDelay : 1000;
    const maxDelay = Math.max(minDelay, opts.maxDelay > 0 ? opts.maxDelay : 60000);
    const onEvent = opts.onEvent || (() => {});
    const onState = opts.onState || (() => {});
    let delay = minDelay;
    let stopped = false;
    let timer = null;
    let current = null;

    function retry(error) {
        if (stopped) return;
        onState('waiting', { delay, error });
        timer = setTimeout(connect, delay);
        delay = Math.min(delay * 2, maxDelay);
    }

    async function connect() {
        timer = null;
        if (stopped) return;
        onState('connecting', {});
        let s;
        try {
            s = await client.stream(path, { query: opts.query, idleTimeout: opts.idleTimeout });
        } catch (err) {
            if (stopped) return;
            if (FATAL.has(err.status) || err.code === 'bad_config' || err.code === 'FINGERPRINT_MISMATCH') {
                stopped = true;
                onState('stopped', { error: err });
                return;
            }
            retry(err);
            return;
        }
        if (stopped) {
            s.close();
            return;
        }
        current = s;
        const opened = Date.now();
        onState('open', {});
        s.on('event', (ev) => {
            try {
                onEvent(ev);
            } catch (err) {
                // the caller's problem, not the stream's
            }
        });
        s.once('close', (err) => {
            current = null;
            if (stopped) return;
            if (Date.now() - opened >= STABLE) delay = minDelay;
            retry(err || new Error('the gateway ended the stream'));
        });
    }

    connect();
    return {
        stop() {
            stopped = true;
            if (timer) clearTimeout(timer);
            timer = null;
            if (current) current.close();
            current = null;
        },
    };
}

module.exports = { follow };
