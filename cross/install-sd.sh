#!/bin/sh
# install-sd.sh installs Perch onto a Raspberry Pi OS SD card or image whose
# partitions are mounted on this computer. See cross/README.md.
#
#   cross/install-sd.sh --root /media/$USER/rootfs --boot /media/$USER/bootfs \
#       [--arch armv6|armv7|arm64] [--config my-perch.yaml]
#
# It copies the static binary for the board, the systemd unit (enabled), the
# sysusers entry that creates the perch user at boot, the first-boot import
# helper and a default /etc/perch/perch.yaml. With --config, the file goes on
# the boot partition as perch.yaml and is imported at the first boot, then
# removed from the FAT partition.
set -eu

usage() {
	echo "usage: $0 --root DIR --boot DIR [--arch armv6|armv7|arm64] [--config FILE] [--dist DIR]" >&2
	exit 2
}
root= boot= arch=armv6 config= here=$(cd "$(dirname "$0")" && pwd)
dist=$here/../dist
while [ $# -gt 0 ]; do
	case $1 in
	--root) root=$2; shift 2 ;;
	--boot) boot=$2; shift 2 ;;
	--arch) arch=$2; shift 2 ;;
	--config) config=$2; shift 2 ;;
	--dist) dist=$2; shift 2 ;;
	-h|--help) usage ;;
	*) echo "install-sd: unknown argument $1" >&2; usage ;;
	esac
done
[ -n "$root" ] && [ -n "$boot" ] || usage
case $arch in armv6|armv7|arm64) ;; *) echo "install-sd: --arch must be armv6, armv7 or arm64 (armv6 runs on every Pi)" >&2; exit 2 ;; esac
bin=$dist/perch_linux_$arch
[ -x "$bin" ] || { echo "install-sd: $bin is missing: run make cross first" >&2; exit 1; }
[ -d "$root/etc" ] && [ -d "$root/usr" ] || { echo "install-sd: $root does not look like a root partition (no etc/ and usr/)" >&2; exit 1; }
[ -d "$boot" ] || { echo "install-sd: $boot is not a directory" >&2; exit 1; }
if [ -n "$config" ]; then
	[ -f "$config" ] || { echo "install-sd: $config does not exist" >&2; exit 1; }
	# Check the file with a perch that runs here, if there is one: a typo
	# found now beats a gateway that does not start on the board.
	for checker in "$here/../bin/perch" "$dist/perch_linux_amd64" ""; do
		[ -n "$checker" ] && [ -x "$checker" ] && "$checker" version >/dev/null 2>&1 && break
	done
	if [ -n "$checker" ]; then
		if ! out=$("$checker" serve --config "$config" --print-config 2>&1 >/dev/null); then
			echo "install-sd: $config is not a valid perch config:" >&2
			echo "$out" >&2
			exit 1
		fi
	fi
fi

install -D -m 0755 "$bin" "$root/usr/bin/perch"
install -D -m 0644 "$here/perch.service" "$root/usr/lib/systemd/system/perch.service"
install -D -m 0644 "$here/perch.sysusers" "$root/usr/lib/sysusers.d/perch.conf"
install -D -m 0755 "$here/firstboot" "$root/usr/lib/perch/firstboot"
if [ ! -f "$root/etc/perch/perch.yaml" ]; then
	install -D -m 0640 "$here/perch.yaml" "$root/etc/perch/perch.yaml"
fi
mkdir -p "$root/etc/systemd/system/multi-user.target.wants"
ln -sf /usr/lib/systemd/system/perch.service "$root/etc/systemd/system/multi-user.target.wants/perch.service"
if [ -n "$config" ]; then
	cp "$config" "$boot/perch.yaml"
fi
sync
echo "Perch ($arch) installed on $root; it starts at the next boot."
[ -z "$config" ] || echo "$config will be imported at the first boot and removed from $boot."
