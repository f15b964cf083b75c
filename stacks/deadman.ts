/**
 * Dead-man switch: user data that makes every host shut itself down at the env's expiry. With
 * instance_initiated_shutdown_behavior = terminate, a shutdown is a termination, so a forgotten fleet
 * stops billing by itself. Deterministic for a given expiry, so `up` twice changes nothing.
 */

/** now + ttl, as ISO-8601 UTC to the second (the form the `loadfleet:expires-at` tag carries). */
export function expiryFrom(now: Date, ttlHours: number): string {
  const at = new Date(now.getTime() + Math.round(ttlHours * 3600) * 1000);
  return at.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function deadmanUserData(env: string, expiresAt: string): string {
  const epoch = Math.floor(Date.parse(expiresAt) / 1000);
  if (!Number.isFinite(epoch)) throw new Error(`expiresAt (${expiresAt}) is not an ISO-8601 timestamp`);
  const calendar = expiresAt.replace('T', ' ').replace('Z', ' UTC');
  return `#!/bin/bash
# loadfleet dead-man switch for env "${env}": this host shuts down (and so terminates) at ${expiresAt}.
set -u
cat > /etc/systemd/system/loadfleet-deadman.service <<'UNIT'
[Unit]
Description=loadfleet dead-man switch (env ${env} expired)
[Service]
Type=oneshot
ExecStart=/usr/sbin/shutdown -h now "loadfleet env ${env} expired at ${expiresAt}"
UNIT
cat > /etc/systemd/system/loadfleet-deadman.timer <<'UNIT'
[Unit]
Description=loadfleet dead-man switch timer (env ${env})
[Timer]
OnCalendar=${calendar}
Persistent=true
[Install]
WantedBy=timers.target
UNIT
if ! { systemctl daemon-reload && systemctl enable --now loadfleet-deadman.timer; }; then
  # No systemd timer: fall back to shutdown's own schedule (lost on reboot, so the timer comes first).
  left=$(( (${epoch} - $(date +%s)) / 60 ))
  [ "$left" -lt 1 ] && left=1
  shutdown -h "+$left" "loadfleet env ${env} expires at ${expiresAt}"
fi
`;
}
