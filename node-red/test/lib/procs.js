'use strict';
// Real processes for the end-to-end test: a Perch gateway (`perch serve`)
// and a headless Node-RED, both on loopback ports, both stopped for sure.

const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const path = require('node:path');

const PKG = path.resolve(__dirname, '..', '..');
const REPO = path.resolve(PKG, '..');

/**
 * eventually polls fn (sync or async) every 25 ms until it returns a truthy
 * value, and returns it. An error thrown by fn counts as "not yet", unless
 * it is fatal (see fatal).
 */
async function eventually(what, fn, ms = 15000) {
    const deadline = Date.now() + ms;
    let last;
    for (;;) {
        try {
            const v = await fn();
            if (v) return v;
        } catch (err) {
            if (err.fatal) throw err;
            last = err;
        }
        if (Date.now() > deadline) {
            throw new Error(`timed out after ${ms} ms waiting for ${what}${last ? `: ${last.message}` : ''}`);
        }
        await new Promise((r) => setTimeout(r, 25));
    }
}

/** fatal is an error that ends eventually at once. */
function fatal(message) {
    const err = new Error(message);
    err.fatal = true;
    return err;
}

/** A child process whose output is kept for the test's report. */
class Proc {
    constructor(name, cmd, args, opts) {
        this.name = name;
        this.output = '';
        this.child = spawn(cmd, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
        this.exited = new Promise((resolve) => {
            this.child.once('exit', (code, signal) => resolve({ code, signal }));
            this.child.once('error', (err) => { // it could not start
                this.output += `${cmd}: ${err.message}\n`;
                resolve({ code: err.code, signal: null });
            });
        });
        this.exitCode = null;
        this.exited.then(({ code, signal }) => {
            this.exitCode = code === null ? signal : code;
        });
        for (const s of [this.child.stdout, this.child.stderr]) {
            s.setEncoding('utf8');
            s.on('data', (d) => {
                this.output += d;
            });
        }
    }

    get running() {
        return this.exitCode === null;
    }

    /** stop sends SIGTERM and waits; after 10 s, SIGKILL. */
    async stop() {
        if (!this.running) return;
        this.child.kill('SIGTERM');
        const timer = setTimeout(() => this.child.kill('SIGKILL'), 10000);
        await this.exited;
        clearTimeout(timer);
    }
}

/** freePort finds a port on 127.0.0.1 that nothing listens on. */
function freePort() {
    return new Promise((resolve, reject) => {
        const s = net.createServer();
        s.once('error', reject);
        s.listen(0, '127.0.0.1', () => {
            const { port } = s.address();
            s.close(() => resolve(port));
        });
    });
}

function cleanEnv() {
    const env = {};
    for (const [k, v] of Object.entries(process.env)) {
        if (!k.startsWith('PERCH_')) env[k] = v;
    }
    return env;
}

/** perchBinary is $PERCH_BIN, or perch built from this repository into dir (with $GO, or go). */
function perchBinary(dir) {
    if (process.env.PERCH_BIN) return path.resolve(process.env.PERCH_BIN);
    const out = path.join(dir, 'perch');
    try {
        execFileSync(process.env.GO || 'go', ['build', '-o', out, './cmd/perch'], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (err) {
        throw new Error(`go build ./cmd/perch failed (set PERCH_BIN to use a built binary): ${err.message}\n${err.stderr || ''}`);
    }
    return out;
}

/** startPerch runs `perch serve` on loopback ports with its own data dir and waits for its ready file. */
async function startPerch(dir) {
    const bin = perchBinary(dir);
    const data = path.join(dir, 'perch-data');
    const readyFile = path.join(dir, 'perch-ready.json');
    const proc = new Proc('perch', bin, [
        'serve', '--data-dir', data, '--hostname', 'perch-e2e',
        '--mqtt-tls-address', '127.0.0.1:0', '--api-address', '127.0.0.1:0',
        '--ready-file', readyFile, '--mdns-enabled=false', '--health-enabled=false',
    ], { env: cleanEnv() });
    const ready = await eventually('perch serve to be ready', () => {
        if (!proc.running) throw fatal(`perch serve exited (${proc.exitCode}):\n${proc.output}`);
        return fs.existsSync(readyFile) && JSON.parse(fs.readFileSync(readyFile, 'utf8'));
    }, 30000);
    const cli = (...args) => execFileSync(bin, ['--data-dir', data, ...args], { env: cleanEnv(), encoding: 'utf8' });
    return { proc, bin, data, ready, cli };
}

/**
 * installPackage packs this package as `npm pack` does for a release and
 * installs the tarball into userDir as the README says (npm install
 * <tarball> in ~/.node-red), offline: it has no dependencies.
 */
function installPackage(dir, userDir) {
    const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
    const quiet = ['--no-audit', '--no-fund', '--loglevel=error'];
    const tgz = execFileSync(npm, ['pack', '--pack-destination', dir, ...quiet], { cwd: PKG, encoding: 'utf8' }).trim().split('\n').pop();
    fs.writeFileSync(path.join(userDir, 'package.json'), JSON.stringify({ name: 'node-red-project', private: true }, null, 2));
    execFileSync(npm, ['install', '--offline', '--ignore-scripts', ...quiet, path.join(dir, tgz)], { cwd: userDir, encoding: 'utf8' });
}

/**
 * startNodeRed runs the node-red devDependency headless on 127.0.0.1:port
 * with a user dir in dir, this package installed in it, admin login
 * admin / password.
 */
async function startNodeRed(dir, password) {
    const userDir = path.join(dir, 'node-red');
    fs.mkdirSync(userDir, { recursive: true });
    installPackage(dir, userDir);
    const port = await freePort();
    const settings = path.join(userDir, 'settings.js');
    fs.writeFileSync(settings, `// Made by the end-to-end test.
const PASSWORD = ${JSON.stringify(password)};
const admin = { username: 'admin', permissions: '*' };
module.exports = {
    uiHost: '127.0.0.1',
    uiPort: ${port},
    userDir: ${JSON.stringify(userDir)},
    flowFile: 'flows.json',
    credentialSecret: ${JSON.stringify(password + '-secret')},
    adminAuth: {
        type: 'credentials',
        users: (username) => Promise.resolve(username === 'admin' ? admin : null),
        authenticate: (username, pw) => Promise.resolve(username === 'admin' && pw === PASSWORD ? admin : null),
    },
    telemetry: { enabled: false, updateNotification: false },
    diagnostics: { enabled: false, ui: false },
    externalModules: { autoInstall: false, palette: { allowInstall: false }, modules: { allowInstall: false } },
    editorTheme: { projects: { enabled: false }, tours: false },
    logging: { console: { level: 'info', metrics: false, audit: false } },
};
`);
    const red = require.resolve('node-red/red.js');
    const proc = new Proc('node-red', process.execPath, [red, '--settings', settings, '--userDir', userDir], { cwd: userDir, env: cleanEnv() });
    const base = `http://127.0.0.1:${port}`;
    await eventually('Node-RED to listen', async () => {
        if (!proc.running) throw fatal(`Node-RED exited (${proc.exitCode}):\n${proc.output}`);
        const r = await request('GET', `${base}/auth/login`);
        return r.status === 200;
    }, 30000);
    return { proc, base, userDir, port };
}

/** request makes a plain HTTP request (Node-RED on loopback) and resolves with { status, headers, text, json }. */
function request(method, url, { headers = {}, body } = {}) {
    return new Promise((resolve, reject) => {
        const data = body === undefined ? undefined : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
        const h = { ...headers };
        if (data) {
            h['Content-Type'] = h['Content-Type'] || 'application/json';
            h['Content-Length'] = data.length;
        }
        const req = http.request(url, { method, headers: h }, (res) => {
            const chunks = [];
            res.on('data', (c) => chunks.push(c));
            res.on('end', () => {
                const text = Buffer.concat(chunks).toString('utf8');
                let json;
                try {
                    json = JSON.parse(text);
                } catch {
                    json = undefined;
                }
                resolve({ status: res.statusCode, headers: res.headers, text, json });
            });
        });
        req.setTimeout(30000, () => req.destroy(new Error(`${method} ${url}: no answer in 30 s`)));
        req.once('error', reject);
        req.end(data);
    });
}

module.exports = { eventually, startPerch, startNodeRed, request, freePort, Proc };
