package config

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
	}
}
