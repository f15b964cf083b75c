#!/bin/sh
# PID 1 of a local-target host, run inside its network namespace and fresh mount/uts/pid namespaces:
# a private /etc (overlay on the machine's), /root, /var/log, /tmp and /run, then sshd in the foreground.
set -eu
H=$1
NAME=$2
hostname "$NAME"
mount -t overlay overlay -o "lowerdir=/etc,upperdir=$H/etc-upper,workdir=$H/etc-work" /etc
mount --bind "$H/root" /root
mount --bind "$H/log" /var/log
mount --bind "$H/tmp" /tmp
mount -t tmpfs -o mode=0755 tmpfs /run
mkdir -p /run/sshd
chmod 0755 /run/sshd
exec /usr/sbin/sshd -D -e -f /etc/ssh/loadfleet_sshd_config
