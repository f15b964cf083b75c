#!/usr/bin/env bash
# Everything loadfleet and its tests need on a fresh Debian bookworm machine (run as root), idempotent:
# Debian packages for the local target and the real test peers, then the pinned npm dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(openssh-server openssh-client iproute2 ansible prometheus prometheus-node-exporter python3-locust procps psmisc sudo shellcheck curl nginx ethtool chromium)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: these Debian packages are missing and installing them needs root: ${missing[*]}" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # Package scripts must not start daemons in the machine's own namespace: loadfleet starts its own.
  had_policy=0; [ -e /usr/sbin/policy-rc.d ] && had_policy=1
  if [ "$had_policy" -eq 0 ]; then printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; fi
  trap '[ "$had_policy" -eq 0 ] && rm -f /usr/sbin/policy-rc.d' EXIT
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: installing npm dependencies (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
fi

# The local target's hosts have no route off their test subnet: the engines they install are staged here
# once, at the versions pinned in ami/engines/*.json; `loadfleet install` verifies the checksums there.
CACHE=${LOADFLEET_ENGINE_CACHE:-/opt/loadfleet-cache}
mkdir -p "$CACHE"
pin() { node -e "const p=require('./ami/engines/$1.json'); const a=p.versions[p.default.netns].netns.find(x=>x.name==='$2'); console.log(a.version + ' ' + a.url.split('/').pop())"; }
read -r deb_version deb_file < <(pin locust python3-locust)
if [ ! -s "$CACHE/$deb_file" ]; then
  echo "setup: staging python3-locust $deb_version in $CACHE"
  # apt-get download needs current package lists: refresh them once if the first try fails.
  (cd "$CACHE" && { apt-get download -q "python3-locust=$deb_version" >/dev/null 2>&1 || { apt-get update -qq && apt-get download -q "python3-locust=$deb_version" >/dev/null; }; }) \
    || { echo "setup: apt-get download python3-locust=$deb_version failed" >&2; exit 1; }
fi
read -r art_version art_file < <(pin artillery artillery)
if [ ! -s "$CACHE/$art_file" ]; then
  echo "setup: staging artillery $art_version in $CACHE (npm pack)"
  (cd "$CACHE" && npm pack --silent "artillery@$art_version" >/dev/null)
fi
if [ ! -x "$CACHE/artillery-$art_version/node_modules/artillery/bin/run" ]; then
  echo "setup: installing artillery $art_version into $CACHE/artillery-$art_version (~590 MB, no browser download)"
  rm -rf "$CACHE/artillery-$art_version.staging"
  (cd "$CACHE" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --silent --no-audit --no-fund --prefix "artillery-$art_version.staging" "./$art_file" >/dev/null)
  mv "$CACHE/artillery-$art_version.staging" "$CACHE/artillery-$art_version"
fi
# The CLI runs from a JavaScript build (dist/); rebuild it from the sources every time (~0.2 s).
node scripts/build/build.mjs

# Not installable from here, so only checked: the AWS path needs terraform; its tests need moto_server.
for tool in terraform moto_server; do
  command -v "$tool" >/dev/null || echo "setup: WARNING: $tool is not on PATH: the AWS target (and its tests) need it" >&2
done
if [ -d /opt/tf-plugins ] && [ -z "${LOADFLEET_TF_PLUGIN_MIRROR:-}" ]; then
  echo "setup: note: a provider mirror exists at /opt/tf-plugins; export LOADFLEET_TF_PLUGIN_MIRROR=/opt/tf-plugins to use it offline"
fi
echo "setup: done"
