#!/usr/bin/env bash
# The main job without an AWS account: a local fleet (controller, 3 Locust agents, a target, monitoring)
# as network-namespace hosts, OS limits tuned and verified in a new session, and the Ansible inventory.
# The fleet stays up for you to use; remove it with: npx loadfleet down --env local-demo --yes
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .loadfleet
[ -f .loadfleet/demo_key ] || ssh-keygen -q -t ed25519 -N '' -C loadfleet-demo -f .loadfleet/demo_key
CONFIG=stacks/examples/local.yaml
lf() { node scripts/loadfleet.mjs "$@"; }
lf up --target local -c "$CONFIG" --yes
lf tune -c "$CONFIG"
lf tune -c "$CONFIG" --verify-only
echo; echo "== Ansible inventory (npx loadfleet inventory -c $CONFIG -f ansible) =="
lf inventory -c "$CONFIG" -f ansible
echo "Try: npx loadfleet inventory -c $CONFIG -f ssh -o .loadfleet/ssh_config && ssh -F .loadfleet/ssh_config agent-1"
echo "Remove it: npx loadfleet down -c $CONFIG --yes"
