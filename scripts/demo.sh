#!/usr/bin/env bash
# The main job without an AWS account: a local fleet (controller, 3 Locust agents, a target, monitoring)
# as network-namespace hosts, OS limits tuned and verified in a new session, the Ansible inventory, Locust
# installed and supervised (master on the controller, one worker per core on each agent), and doctor green.
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
lf install -c "$CONFIG"
# A stand-in for the system under test on the target host, so doctor can check every agent reaches its port.
lf inventory -c "$CONFIG" -f ssh -o .loadfleet/ssh_config
ssh -F .loadfleet/ssh_config app-1 'cd /; setsid nohup /usr/bin/python3 -m http.server 8080 >/dev/null 2>&1 </dev/null &'
# Workers connect within seconds of starting: doctor re-checks for up to 60 s until every check is ok.
lf doctor -c "$CONFIG" --wait 60
lf install -c "$CONFIG"   # a rerun changes nothing
echo; echo "== Ansible inventory (npx loadfleet inventory -c $CONFIG -f ansible) =="
lf inventory -c "$CONFIG" -f ansible
echo "Try: npx loadfleet inventory -c $CONFIG -f ssh -o .loadfleet/ssh_config && ssh -F .loadfleet/ssh_config agent-1"
echo "Remove it: npx loadfleet down -c $CONFIG --yes"
