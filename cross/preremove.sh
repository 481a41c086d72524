#!/bin/sh
# Before removing the perch package: stop the service (its data stays in
# /var/lib/perch; remove it by hand if you want it gone).
set -e
if [ -d /run/systemd/system ]; then
	systemctl disable --now perch.service >/dev/null 2>&1 || true
fi
