#!/usr/bin/env python3
"""Perch example: a Raspberry Pi (or any Linux box) as a device of a Perch
gateway, over MQTT with TLS, with paho-mqtt 1.6 or 2.x.

Every --interval seconds it publishes the machine's own readings as JSON to
    sensors/<device id>/env    e.g. {"cpu_temp":48.3,"load":0.12,"mem":31.5,"led":0}
which the bucket `perch bucket add env --topic 'sensors/+/env'` records, and
it switches an LED as told on
    cmd/<device id>/led        "on" or "off" (the console's switch widget),
                               "1" or "0", "true" or "false"
publishing a reading at once so that a dashboard shows the new state. Both
topics are the device's own, inside the ACL of
    perch device add <device id> --publish 'sensors/%c/#' --subscribe 'cmd/%c/#'

The LED is a GPIO pin through gpiozero with --led-gpio (a Pi), else it is
only printed. Settings come from flags or the environment (PERCH_*); the
device's credentials best from PERCH_DEVICE_CREDENTIALS, so that they do
not show in `ps`. See README.md next to this file.
"""

import argparse
import json
import os
import signal
import sys
import threading

import paho.mqtt.client as mqtt

# MQTT 3.1.1 CONNACK return codes, as paho 1.6 hands them over.
CONNACK = {
    1: "unacceptable protocol version",
    2: "client id refused",
    3: "server unavailable",
    4: "bad user name or password: check --account, --device and the credentials",
    5: "not authorized: is the device disabled?",
}


def parse_args(argv):
    env = os.environ.get
    p = argparse.ArgumentParser(description="Publish this machine's readings to a Perch gateway and follow LED commands.")
    p.add_argument("--host", default=env("PERCH_HOST", "perch.local"), help="the gateway's name or address [PERCH_HOST] (default perch.local)")
    p.add_argument("--port", type=int, default=int(env("PERCH_PORT", "8883")), help="its MQTT over TLS port [PERCH_PORT] (default 8883)")
    p.add_argument("--cafile", default=env("PERCH_CA_FILE", "perch-ca.pem"), help="the gateway's CA, from `perch ca export` [PERCH_CA_FILE] (default perch-ca.pem)")
    p.add_argument("--account", default=env("PERCH_ACCOUNT", "admin"), help="the gateway's account id: the MQTT user name [PERCH_ACCOUNT] (default admin)")
    p.add_argument("--device", default=env("PERCH_DEVICE_ID"), help="the device id: the MQTT client id [PERCH_DEVICE_ID]")
    p.add_argument("--credentials-file", default=env("PERCH_DEVICE_CREDENTIALS_FILE"), help="a file holding the device's credentials [PERCH_DEVICE_CREDENTIALS_FILE]; or set PERCH_DEVICE_CREDENTIALS")
    p.add_argument("--interval", type=float, default=float(env("PERCH_INTERVAL", "30")), help="seconds between readings [PERCH_INTERVAL] (default 30)")
    p.add_argument("--count", type=int, default=0, help="stop after this many readings (default 0: run until Ctrl-C)")
    p.add_argument("--led-gpio", type=int, default=None, help="drive an LED on this GPIO (BCM numbering) with gpiozero")
    a = p.parse_args(argv)
    if not a.device:
        p.error("--device (or PERCH_DEVICE_ID) is required")
    if a.credentials_file:
        with open(a.credentials_file, encoding="utf-8") as f:
            a.credentials = f.read().strip()
    else:
        a.credentials = env("PERCH_DEVICE_CREDENTIALS")
    if not a.credentials:
        p.error("set PERCH_DEVICE_CREDENTIALS or --credentials-file: the credentials `perch device add` printed")
    if a.interval <= 0:
        p.error("--interval must be positive")
    return a


def parse_switch(payload):
    """on/off, 1/0 or true/false, any case, quoted or not; None otherwise."""
    word = payload.decode("utf-8", "replace").strip().strip('"').strip().lower()
    if word in ("on", "1", "true"):
        return True
    if word in ("off", "0", "false"):
        return False
    return None


def readings():
    """This machine's own readings; a value it cannot read is left out."""
    out = {}
    try:
        with open("/sys/class/thermal/thermal_zone0/temp", encoding="ascii") as f:
            out["cpu_temp"] = round(int(f.read()) / 1000, 1)
    except (OSError, ValueError):
        pass
    try:
        out["load"] = round(os.getloadavg()[0], 2)
    except OSError:
        pass
    try:
        mem = {}
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                key, value = line.split(":", 1)
                mem[key] = int(value.split()[0])
        out["mem"] = round(100 * (1 - mem["MemAvailable"] / mem["MemTotal"]), 1)
    except (OSError, KeyError, ValueError, ZeroDivisionError):
        pass
    return out


def new_client(client_id):
    """A 3.1.1 client with paho 2.x's callback API when there is one."""
    if hasattr(mqtt, "CallbackAPIVersion"):  # paho-mqtt 2.x
        return mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv311)
    return mqtt.Client(client_id=client_id, protocol=mqtt.MQTTv311)  # paho-mqtt 1.x


class Device:
    def __init__(self, args):
        self.args = args
        self.topic_env = "sensors/%s/env" % args.device
        self.topic_led = "cmd/%s/led" % args.device
        self.led_on = False
        self.led = None
        if args.led_gpio is not None:
            from gpiozero import LED  # only on a Pi

            self.led = LED(args.led_gpio)
        self.wake = threading.Event()  # set by a command or by a stop
        self.stopping = False
        self.connected = threading.Event()

        c = new_client(args.device)
        c.username_pw_set(args.account, args.credentials)
        # Verify the gateway against its own CA, host name included.
        c.tls_set(ca_certs=args.cafile)
        # paho reconnects by itself, waiting 1 s, then twice as long each
        # time, up to a minute.
        c.reconnect_delay_set(min_delay=1, max_delay=60)
        c.on_connect = self.on_connect
        c.on_disconnect = self.on_disconnect
        c.on_message = self.on_message
        c.on_subscribe = self.on_subscribe
        self.client = c

    # paho 1.x: (client, userdata, flags, rc); 2.x: (..., reason_code, properties)
    def on_connect(self, client, userdata, flags, rc, properties=None):
        code = rc if isinstance(rc, int) else rc.value
        if code != 0:
            print("MQTT: connect refused, rc=%d: %s" % (code, CONNACK.get(code, str(rc))), flush=True)
            return
        print("MQTT: connected to %s:%d as %s" % (self.args.host, self.args.port, self.args.device), flush=True)
        # QoS 1, and the switch's messages are retained: after a restart the
        # LED comes back as the dashboard shows it.
        client.subscribe(self.topic_led, qos=1)
        self.connected.set()
        self.wake.set()  # publish a reading at once

    def on_disconnect(self, client, userdata, *args):
        self.connected.clear()
        if not self.stopping:
            print("MQTT: connection lost; paho reconnects", flush=True)

    def on_subscribe(self, client, userdata, mid, granted, *args):
        codes = [g if isinstance(g, int) else g.value for g in granted]
        if any(c >= 0x80 for c in codes):
            print("MQTT: subscription to %s refused: the device's ACL does not allow it" % self.topic_led, flush=True)

    def on_message(self, client, userdata, msg):
        on = parse_switch(msg.payload) if msg.topic == self.topic_led else None
        if on is None:
            print("Ignored a message on %s" % msg.topic, flush=True)
            return
        self.led_on = on
        if self.led is not None:
            self.led.value = on
        print("LED %s" % ("on" if on else "off"), flush=True)
        self.wake.set()  # publish the new state at once

    def publish(self):
        reading = readings()
        reading["led"] = 1 if self.led_on else 0
        payload = json.dumps(reading, separators=(",", ":"))
        info = self.client.publish(self.topic_env, payload, qos=1)
        if info.rc == mqtt.MQTT_ERR_SUCCESS:
            print("Published %s" % payload, flush=True)
        else:
            print("Publish failed: %s" % mqtt.error_string(info.rc), flush=True)

    def stop(self, *_):
        self.stopping = True
        self.wake.set()

    def run(self):
        a = self.args
        print("Perch example: %s publishes to %s and listens on %s" % (a.device, self.topic_env, self.topic_led), flush=True)
        self.client.connect_async(a.host, a.port, keepalive=30)
        self.client.loop_start()  # a thread of paho's: network, callbacks, reconnects
        sent = 0
        try:
            while not self.stopping and (a.count == 0 or sent < a.count):
                self.wake.wait(a.interval)
                self.wake.clear()
                if self.stopping:
                    break
                if self.connected.is_set():
                    self.publish()
                    sent += 1
        finally:
            self.client.disconnect()
            self.client.loop_stop()
            if self.led is not None:
                self.led.close()
        print("Stopped after %d readings" % sent, flush=True)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    device = Device(args)
    signal.signal(signal.SIGTERM, device.stop)
    signal.signal(signal.SIGINT, device.stop)
    device.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
