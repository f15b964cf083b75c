#!/usr/bin/env bash
# Runs a command in a private network + mount namespace: its own loopback, bridges and `ip netns` names.
set -euo pipefail
exec unshare --net --mount --propagation private -- bash -c 'set -e; ip link set lo up; mkdir -p /run/netns; mount -t tmpfs tmpfs /run/netns; exec "$@"' iso "$@"
