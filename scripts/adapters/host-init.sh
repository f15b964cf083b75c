#!/bin/sh
# PID 1 of a local-target host, run inside its network namespace and fresh mount/uts/pid namespaces:
# a private /etc (overlay on the machine's), /root, /home, /var/log, /tmp and /run, the login user, then
# sshd in the foreground. Its own errors go to $H/init.log (nothing else would see them).
set -eu
H=$1
NAME=$2
LOGIN=${3:-root}
exec 2>>"$H/init.log"
# Read before /tmp is replaced: $H itself may live under the machine's /tmp.
KEYS=""
if [ "$LOGIN" != root ]; then KEYS=$(cat "$H/login_authorized_keys"); fi
hostname "$NAME"
mount -t overlay overlay -o "lowerdir=/etc,upperdir=$H/etc-upper,workdir=$H/etc-work" /etc
mount --bind "$H/root" /root
# /home is the machine's own otherwise: each host's users get a private one.
mount --bind "$H/home" /home
mount --bind "$H/log" /var/log
mount --bind "$H/tmp" /tmp
mount -t tmpfs -o mode=0755 tmpfs /run
mkdir -p /run/sshd
chmod 0755 /run/sshd
# A non-root login gets what Amazon Linux gives ec2-user: a user with the fleet's key and passwordless
# sudo. Created once, in this host's private /etc and /home (a restarted host keeps them).
if [ "$LOGIN" != root ] && ! id -u "$LOGIN" >/dev/null 2>&1; then
  useradd --create-home --user-group --shell /bin/bash "$LOGIN"
  usermod -p '*' "$LOGIN" # no password, but not locked
  mkdir -m 0700 "/home/$LOGIN/.ssh"
  printf '%s\n' "$KEYS" > "/home/$LOGIN/.ssh/authorized_keys"
  chmod 0600 "/home/$LOGIN/.ssh/authorized_keys"
  chown -R "$LOGIN:$LOGIN" "/home/$LOGIN/.ssh"
  printf '%s ALL=(ALL) NOPASSWD:ALL\n' "$LOGIN" > /etc/sudoers.d/90-cloud-init-users
  chmod 0440 /etc/sudoers.d/90-cloud-init-users
fi
exec /usr/sbin/sshd -D -e -f /etc/ssh/loadfleet_sshd_config
