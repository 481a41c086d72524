#!/bin/sh
# After installing or upgrading the perch package.
set -e
if command -v systemd-sysusers >/dev/null 2>&1; then
	systemd-sysusers /usr/lib/sysusers.d/perch.conf
fi
chgrp perch /etc/perch/perch.yaml 2>/dev/null || true
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload
	systemctl enable perch.service >/dev/null
	systemctl restart perch.service || echo "perch: the service did not start; see: journalctl -u perch" >&2
fi
