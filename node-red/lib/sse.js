'use strict';
// A parser of server-sent events (text/event-stream), as the HTML standard
// defines them: fields "event", "data" (several join with "\n"), "id";
// comment lines start with ':'; a blank line dispatches; lines end with
// CRLF, LF or CR.

class SSEParser {
    constructor(onEvent) {
        this.onEvent = onEvent;
        this.buf = '';
        this.reset();
    }

    reset() {
        this.event = '';
        this.data = [];
        this.id = undefined;
    }

    push(chunk) {
        this.buf += chunk;
        for (;;) {
            const m = /\r\n|\r|\n/.exec(this.buf);
            // A CR at the very end may be the first half of a CRLF.
            if (!m || (m[0] === '\r' && m.index === this.buf.length - 1)) break;
            const line = this.buf.slice(0, m.index);
            this.buf = this.buf.slice(m.index + m[0].length);
            this.line(line);
        }
    }

    line(line) {
        if (line === '') {
            if (this.data.length > 0) {
                this.onEvent({ event: this.event || 'message', data: this.data.join('\n'), id: this.id });
            }
            this.reset();
            return;
        }
        if (line[0] === ':') return;
        const i = line.indexOf(':');
        const field = i < 0 ? line : line.slice(0, i);
        let value = i < 0 ? '' : line.slice(i + 1);
        if (value[0] === ' ') value = value.slice(1);
        switch (field) {
        case 'event': this.event = value; break;
        case 'data': this.data.push(value); break;
        case 'id': this.id = value; break;
        default: // retry and unknown fields are ignored
        }
    }
}

module.exports = { SSEParser };
