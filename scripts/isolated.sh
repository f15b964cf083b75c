#!/usr/bin/env bash
# Runs a command in a private network + mount namespace: its own loopback, bridges and `ip netns` names,
# so test runs side by side never see each other's hosts. /run is a private tmpfs (not only /run/netns):
# `ip netns`/teardown may unmount /run/netns, and what lies beneath must still be ours, not the machine's.
set -euo pipefail
exec unshare --net --mount --propagation private -- bash -c 'set -e; ip link set lo up; mount -t tmpfs -o mode=0755 tmpfs /run; mkdir -p /run/netns /run/lock; exec "$@"' iso "$@"
