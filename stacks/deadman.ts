/**
 * Dead-man switch: every host shuts itself down (and, with instance_initiated_shutdown_behavior =
 * terminate, is terminated) once the time in its own `loadfleet:expires-at` tag has passed.
 *
 * The user data is static: a timer reads the tag every minute through instance metadata tags (IMDSv2,
 * `instance_metadata_tags = "enabled"`). Changing ttlHours is then an in-place tag update — no new user
 * data, so no stop/start (which one-time spot instances cannot do) and no replacement.
 *
 * When the tag cannot be read, the last expiry read on this host is used; if it was never read (tags in
 * metadata disabled by hand, IMDS off), the host stops FALLBACK_HOURS after its first check: the longest
 * TTL loadfleet allows. Each such check is logged to the journal (`journalctl -t loadfleet-deadman`).
 */

/** The longest ttlHours the config accepts, and the life of a host that can never read its tag. */
export const FALLBACK_HOURS = 168;

/** The tag the switch reads. */
export const EXPIRES_TAG = 'loadfleet:expires-at';

/** now + ttl, as ISO-8601 UTC to the second (the form the `loadfleet:expires-at` tag carries). */
export function expiryFrom(now: Date, ttlHours: number): string {
  const at = new Date(now.getTime() + Math.round(ttlHours * 3600) * 1000);
  return at.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * The check, run every minute. IMDS address and state folder can be overridden by the environment
 * (tests serve the tag from a local address); the defaults are EC2's.
 */
export function deadmanCheckScript(env: string): string {
  if (!/^[a-z0-9-]+$/.test(env)) throw new Error(`env name (${env}) is not safe in a script`);
  return `#!/bin/bash
# loadfleet dead-man switch for env "${env}": shut down once the ${EXPIRES_TAG} tag has passed.
# No dollar-brace anywhere: Terraform would read it as an interpolation inside user_data.
imds="$LOADFLEET_IMDS"
[ -n "$imds" ] || imds=http://169.254.169.254
dir="$LOADFLEET_DEADMAN_DIR"
[ -n "$dir" ] || dir=/var/lib/loadfleet
mkdir -p "$dir"
now=$(date +%s)
expires=""
if token=$(curl -sf -m 5 -X PUT "$imds/latest/api/token" -H "X-aws-ec2-metadata-token-ttl-seconds: 60") &&
  tag=$(curl -sf -m 5 -H "X-aws-ec2-metadata-token: $token" "$imds/latest/meta-data/tags/instance/${EXPIRES_TAG}") &&
  at=$(date -d "$tag" +%s 2>/dev/null); then
  expires="$at"
  printf '%s\\n' "$expires" > "$dir/expires-at"
elif [ -s "$dir/expires-at" ]; then
  expires=$(cat "$dir/expires-at")
  logger -t loadfleet-deadman "cannot read the ${EXPIRES_TAG} tag; using the last one read ($expires)"
else
  [ -s "$dir/fallback-at" ] || printf '%s\\n' "$((now + ${FALLBACK_HOURS * 3600}))" > "$dir/fallback-at"
  expires=$(cat "$dir/fallback-at")
  logger -t loadfleet-deadman "cannot read the ${EXPIRES_TAG} tag and never could; stopping at the ${FALLBACK_HOURS} h fallback ($expires)"
fi
if [ "$now" -ge "$expires" ]; then
  logger -t loadfleet-deadman "env ${env} expired; shutting down"
  shutdown -h now "loadfleet env ${env} expired"
fi
`;
}

/** Static user data: installs the check and a timer that runs it every minute (a loop where systemd is missing). */
export function deadmanUserData(env: string): string {
  return `#!/bin/bash
# loadfleet dead-man switch for env "${env}": this host shuts down (and so terminates) once its
# ${EXPIRES_TAG} tag has passed. The tag is read every minute, so the expiry can move without a restart.
set -u
mkdir -p /usr/local/sbin
cat > /usr/local/sbin/loadfleet-deadman <<'CHECK'
${deadmanCheckScript(env)}CHECK
chmod 0755 /usr/local/sbin/loadfleet-deadman
cat > /etc/systemd/system/loadfleet-deadman.service <<'UNIT'
[Unit]
Description=loadfleet dead-man switch check (env ${env})
[Service]
Type=oneshot
ExecStart=/usr/local/sbin/loadfleet-deadman
UNIT
cat > /etc/systemd/system/loadfleet-deadman.timer <<'UNIT'
[Unit]
Description=loadfleet dead-man switch: check the expiry tag every minute (env ${env})
[Timer]
OnBootSec=1min
OnUnitActiveSec=1min
AccuracySec=10s
[Install]
WantedBy=timers.target
UNIT
if ! { systemctl daemon-reload && systemctl enable --now loadfleet-deadman.timer; }; then
  # No systemd: the same check from a loop (started again by cloud-init's per-boot run of this script).
  nohup sh -c 'while :; do /usr/local/sbin/loadfleet-deadman; sleep 60; done' >/dev/null 2>&1 &
fi
`;
}
