package config

import "strconv"

// descriptions is the one text per key used by the flags' help and by
// Reference. Keep each to one sentence, without backquotes (pflag takes a
// backquoted word as the flag's value name) or pipes (Markdown tables).
// TestDescriptions fails when a key has none or an entry names no key.
func descriptions() map[string]string {
	return map[string]string{
		"data_dir": "Directory of the registry, TLS material and control socket; created with mode 0700.",
		"account":  "Account id: the MQTT user name every device logs in with, and the admin login name.",
		"hostname": "Name of the gateway in its certificate and banner; the system's host name when empty.",

		"log.level":  "Log level: debug, info, warn or error.",
		"log.format": "Log format: text or json.",

		"tls.cert_file":   "PEM certificate that replaces the generated server certificate; needs tls.key_file.",
		"tls.key_file":    "PEM private key of tls.cert_file.",
		"tls.extra_names": "Additional DNS names or IP addresses for the generated server certificate.",

		"mqtt.tls.enabled":               "Serve MQTT over TLS.",
		"mqtt.tls.address":               "Listen address of MQTT over TLS.",
		"mqtt.tls.allow_anonymous":       "Let clients without user name and password connect over TLS.",
		"mqtt.tcp.enabled":               "Serve plain, unencrypted MQTT.",
		"mqtt.tcp.address":               "Listen address of plain MQTT.",
		"mqtt.tcp.allow_anonymous":       "Let clients without user name and password connect over plain MQTT.",
		"mqtt.websocket.enabled":         "Serve MQTT over secure WebSocket.",
		"mqtt.websocket.address":         "Listen address of MQTT over secure WebSocket.",
		"mqtt.websocket.allow_anonymous": "Let clients without user name and password connect over WebSocket.",
		"mqtt.max_packet_size":           "Largest MQTT packet in bytes, the CONNECT included; a larger one closes the connection.",
		"mqtt.connect_timeout":           "Time allowed for the TLS handshake plus the CONNECT packet.",
		"mqtt.max_queued":                "Outgoing messages queued per client; beyond it messages to that client are dropped.",
		"mqtt.max_inflight":              "Unacknowledged QoS 1 and 2 messages per client.",
		"mqtt.session_expiry":            "Longest time a disconnected persistent session is kept.",
		"mqtt.max_clients":               "Simultaneous connections allowed; 0 for no limit.",
		"mqtt.sys_interval":              "How often the $SYS topics are refreshed.",

		"api.enabled":     "Serve the admin HTTPS API.",
		"api.address":     "Listen address of the admin API.",
		"api.session_ttl": "How long a console login stays valid.",

		"storage.fsync_interval":     "Longest span of acknowledged points a power cut can lose; 0 to fsync before every acknowledgement.",
		"storage.partition_duration": "Time span of a bucket's storage partitions; the newest one or two are held in memory.",
		"storage.max_pending":        "Points that may wait to be compressed before publishers are slowed.",

		"mdns.enabled":    "Advertise the gateway on the local network over mDNS (_secure-mqtt, _mqtt and _https services).",
		"mdns.instance":   "Advertised instance name, at most 63 bytes and without dots; perch- and the host name when empty.",
		"mdns.interfaces": "Network interfaces to advertise on; empty for every multicast-capable interface but loopback.",

		"health.enabled":  "Publish the gateway's health (temperature, load, memory, disk, broker) to perch/HOSTNAME/health and record it in the bucket health.",
		"health.interval": "How often the health report is published.",
		"health.led":      "Status LED: empty for none, act for the board's ACT LED, or a GPIO pin name such as GPIO17.",

		"upstream.url":          "URL of the upstream MQTT broker (mqtts://host:8883, mqtt://host:1883, wss://host/path, ws://host/path); empty for no upstream.",
		"upstream.client_id":    "MQTT client id at the upstream broker; perch- and upstream.gateway when empty.",
		"upstream.username":     "MQTT user name at the upstream broker.",
		"upstream.password":     "MQTT password at the upstream broker; prefer the environment variable to keep it out of files.",
		"upstream.cert_file":    "PEM client certificate for brokers that authenticate clients by certificate; needs upstream.key_file.",
		"upstream.key_file":     "PEM private key of upstream.cert_file.",
		"upstream.ca_file":      "PEM CA the upstream broker's certificate must chain to; the system's roots when empty.",
		"upstream.mqtt_version": "MQTT version spoken upstream: 5 or 3.1.1.",
		"upstream.keepalive":    "MQTT keepalive of the upstream connection.",
		"upstream.gateway":      "Name of this gateway upstream, the {gateway} of upstream.topic; the host name when empty.",
		"upstream.buckets":      "Buckets forwarded upstream: * for all, or their ids; an empty list forwards none.",
		"upstream.topic":        "Topic of a bucket's batches upstream; {gateway} and {bucket} are replaced.",
		"upstream.batch_size":   "Most records in one upstream message.",
		"upstream.max_rate":     "Most points forwarded a second, all buckets together; 0 for no bound.",
		"upstream.inflight":     "Batches of one bucket that may await the upstream broker's acknowledgement at once.",
	}
}

// itemDescriptions is the text of every key of the items of the lists of
// objects, by list and key ("devices.id"), for Reference; the same rules
// as descriptions. TestDescriptions checks them as it does the keys.
func itemDescriptions() map[string]string {
	return map[string]string{
		"devices.id":               "Device id, required and unique: 1 to 64 letters, digits, '_' or '-'; the device's MQTT client id.",
		"devices.name":             "Name shown in listings.",
		"devices.description":      "Free text.",
		"devices.enabled":          "Whether the device may connect; true when left out.",
		"devices.credentials":      "The device's MQTT password, at least " + strconv.Itoa(minCredentialsLen) + " bytes, kept in clear in the file; give this or credentials_hash.",
		"devices.credentials_hash": "The password's hash as perch device credentials --hash prints it (it starts with $), so the file holds no password.",
		"devices.publish":          "Topic filters the device may publish to (%c is the device id, %u the account id); left out, the default rules (#); [] grants nothing.",
		"devices.subscribe":        "Topic filters the device may subscribe within, as for publish.",

		"buckets.id":          "Bucket id, required and unique: 1 to 64 letters, digits, '_' or '-'.",
		"buckets.name":        "Name shown in listings.",
		"buckets.description": "Free text.",
		"buckets.enabled":     "Whether the bucket stores what is published to its topic; true when left out.",
		"buckets.topic":       "MQTT topic filter whose messages the bucket stores; empty for a bucket written through the API only.",
		"buckets.retention":   "How long points are kept: days (30d), weeks (2w), a duration (12h) or 0 for forever; 365d when left out.",
		"buckets.resolution":  "Time resolution of stored points, whole milliseconds from 1ms to 1h (100ms, 1s); 1ms when left out.",

		"upstream.bridge.direction":     "out forwards local messages upstream as they happen; in republishes upstream messages locally.",
		"upstream.bridge.filter":        "Topic filter on the source side: local topics for out, upstream topics for in.",
		"upstream.bridge.local_prefix":  "Prefix of the local topics, replaced by remote_prefix going out and put back coming in.",
		"upstream.bridge.remote_prefix": "Prefix of the upstream topics, as local_prefix.",
		"upstream.bridge.qos":           "Highest QoS the rule forwards at, 0 or 1; 1 when left out (a message keeps its own QoS if lower).",
	}
}
