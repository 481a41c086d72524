// How a device connects: host, port, user name, client id, CA, and a ready
// mosquitto_pub command line.
import { html } from '../lib/html.js';
import { CopyButton } from '../lib/ui.js';

/** mqttPort is the TLS listener's port from /status, 8883 by default. */
export function mqttPort(status) {
  const a = status?.listeners?.mqtt_tls || '';
  const m = a.match(/:(\d+)$/);
  return m ? m[1] : '8883';
}

/** sampleTopic picks a topic the device may publish to. */
export function sampleTopic(device, account) {
  const filter = (device.acl?.publish || ['#'])[0] || '#';
  const t = filter.replaceAll('%c', device.id).replaceAll('%u', account)
    .replace(/(^|\/)#$/, '$1data').replaceAll('+', 'x');
  return t === 'data' ? `sensors/${device.id}` : t;
}

const quote = (s) => `'${String(s).replaceAll("'", "'\\''")}'`;

export function ConnectPanel({ device, status, credentials }) {
  const host = location.hostname;
  const port = mqttPort(status);
  const account = status?.account || 'admin';
  const noTLS = !status?.listeners?.mqtt_tls;
  const cmd = `mosquitto_pub --cafile perch-ca.pem -h ${host} -p ${port} -V mqttv311 -u ${quote(account)} ` +
    `-i ${quote(device.id)} -P ${credentials ? quote(credentials) : "'<password>'"} ` +
    `-t ${quote(sampleTopic(device, account))} -m '{"temp": 21.5}'`;
  return html`<section class="connect" aria-label="How to connect">
    <h3>How to connect</h3>
    ${noTLS && html`<p class="warn">The MQTT TLS listener is off on this gateway.</p>`}
    <dl class="kv">
      <dt>Broker address</dt><dd><code>${host}</code> <${CopyButton} text=${host} /></dd>
      <dt>Port</dt><dd><code>${port}</code> (TLS, MQTT 3.1.1 or 5)</dd>
      <dt>User name</dt><dd><code>${account}</code> <${CopyButton} text=${account} /></dd>
      <dt>Client id</dt><dd><code>${device.id}</code> <${CopyButton} text=${device.id} /></dd>
      <dt>Password</dt><dd>${credentials ? 'the credentials above' : "the device's credentials (shown once when made; rotate them to get new ones)"}</dd>
      <dt>CA certificate</dt><dd><a href="/api/v1/ca" download="perch-ca.pem">Download perch-ca.pem</a></dd>
    </dl>
    <p class="hint">With the CA saved as <code>perch-ca.pem</code>, this publishes one reading:</p>
    <div class="cmd"><code>${cmd}</code><${CopyButton} text=${cmd} /></div>
  </section>`;
}
