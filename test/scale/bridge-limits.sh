#!/usr/bin/env bash
# Bare-namespace experiment (no sshd): N network namespaces on ONE bridge, as the local target wires its hosts.
# Measures what breaks past ~1,000 hosts: the bridge's port limit, the per-CPU backlog a broadcast (ARP) is
# flooded into, and the neighbour table. Run it isolated: bash scripts/isolated.sh bash test/scale/bridge-limits.sh 1100
set -uo pipefail
N=${1:-1100}
IPV6=${IPV6:-on}
GRO=${GRO:-off}    # on: GRO (hence NAPI and a per-veth ring) on every host's eth0, instead of the per-CPU backlog
NEIGH=${NEIGH:-dynamic}  # static: fixed MACs and permanent neighbour entries (root -> every host, every host -> root)   # off: IPv6 disabled in every namespace and on every bridge port before the links come up
P=scx   # every name made starts with this; removed by name on exit
BR=${P}br0
cleanup() {
  for i in $(seq 1 "$N"); do echo "netns del ${P}$i"; done | ip -force -batch - 2>/dev/null
  ip link del "$BR" 2>/dev/null
}
trap cleanup EXIT
ipof() { echo "10.250.$(( ($1 + 9) / 256 )).$(( ($1 + 9) % 256 ))"; }
# softnet_stat column 2: packets dropped because a CPU's backlog (net.core.netdev_max_backlog) was full.
drops() { local s=0 a b r; while read -r a b r; do s=$((s + 0x$b)); done </proc/net/softnet_stat; echo $s; }
# (both machine-wide counters: read the init namespace's view through PID 1)
# arp_cache column 13: allocations refused because the neighbour table was full (gc_thresh3).
fulls() { local s=0 l; while read -r -a l; do [[ ${l[0]} == entries ]] || s=$((s + 0x${l[12]})); done </proc/1/net/stat/arp_cache; echo $s; }
# A TCP connect to port 22 where nothing listens: "refused" proves the host answered (ARP resolved); "No route
# to host" is the EHOSTUNREACH the fleet saw (ARP got no answer). No ping on this machine.
probe() { local out; out=$(timeout 6 bash -c "exec 3<>/dev/tcp/$1/22" 2>&1); case "$out" in *refused*) echo ok;; *"No route"*) echo unreach;; *) echo "other:$out";; esac; }
export -f probe
echo "IPv6 $IPV6; GRO $GRO; neighbours $NEIGH; kernel $(uname -r); netdev_max_backlog=$(cat /proc/sys/net/core/netdev_max_backlog 2>/dev/null || echo '(not visible in this netns)'); gc_thresh3=$(sysctl -n net.ipv4.neigh.default.gc_thresh3 2>/dev/null || echo '(not visible)')"
ip link add "$BR" address 02:4c:46:fa:00:01 type bridge && ip addr add 10.250.0.1/20 dev "$BR" && ip link set "$BR" up
t0=$(date +%s.%N)
for i in $(seq 1 "$N"); do echo "netns add ${P}$i"; done | ip -batch - || exit 1
macof() { printf '02:4c:46:%02x:%02x:%02x' $(( $1 >> 16 & 255 )) $(( $1 >> 8 & 255 )) $(( $1 & 255 )); }
for i in $(seq 1 "$N"); do echo "link add ${P}v$i type veth peer name eth0 address $(macof "$i") netns ${P}$i"; done | ip -batch - || exit 1
firstfail=""
if [[ $IPV6 == off ]]; then
  sysctl -qw net.ipv6.conf.default.disable_ipv6=1 net.ipv6.conf.all.disable_ipv6=1
  for i in $(seq 1 "$N"); do echo "netns exec ${P}$i sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1"; done | ip -batch - >/dev/null
fi
for i in $(seq 1 "$N"); do
  if ! out=$(ip link set "${P}v$i" master "$BR" up 2>&1); then firstfail="port $i: $out"; echo "attach failed at $firstfail"; break; fi
done
for i in $(seq 1 "$N"); do
  ip -n "${P}$i" -batch - <<B 2>/dev/null
addr add $(ipof "$i")/20 dev eth0
link set eth0 up
link set lo up
B
done
if [[ $GRO == on ]]; then for i in $(seq 1 "$N"); do echo "netns exec ${P}$i ethtool -K eth0 gro on"; done | ip -batch - >/dev/null; fi
if [[ $NEIGH == static ]]; then
  brmac=02:4c:46:fa:00:01  # set at creation (a bridge otherwise takes its lowest port's MAC)
  for i in $(seq 1 "$N"); do echo "neigh replace $(ipof "$i") lladdr $(macof "$i") nud permanent dev $BR"; done | ip -batch -
  for i in $(seq 1 "$N"); do ip -n "${P}$i" neigh replace 10.250.0.1 lladdr "$brmac" nud permanent dev eth0; done
fi
ports=$(ip -o link show master "$BR" | wc -l)
echo "made $N namespaces in $(echo "$(date +%s.%N) - $t0" | bc) s; bridge ports attached: $ports; first attach failure: ${firstfail:-none}"
# Test 1: the OLDEST port (host 1, like the controller at .10) after a fresh ARP: root -> host 1, 5 tries.
ok=0; d0=$(drops)
for t in 1 2 3 4 5; do ip neigh flush dev "$BR" 2>/dev/null; [[ $(probe "$(ipof 1)") == ok ]] && ok=$((ok + 1)); done
echo "root -> host 1 (oldest port, flooded last) with a fresh ARP: $ok/5 answered; softnet drops +$(( $(drops) - d0 ))"
ok=0; d0=$(drops); top=$(( ports < N ? ports : N ))
for t in 1 2 3 4 5; do ip neigh flush dev "$BR" 2>/dev/null; [[ $(probe "$(ipof "$top")") == ok ]] && ok=$((ok + 1)); done
echo "root -> host $top (newest port, flooded first) with a fresh ARP: $ok/5 answered; softnet drops +$(( $(drops) - d0 ))"
# Test 2: every host once from the root (the neighbour table then holds ~2 entries per host: root's and the host's).
fail=0; f0=$(fulls); d0=$(drops); t0=$(date +%s.%N)
fail=$(for i in $(seq 1 "$top"); do ipof "$i"; done | xargs -P 40 -I{} bash -c 'probe {}' | grep -vc '^ok$')
echo "root -> each of $top hosts once: $fail failed in $(echo "$(date +%s.%N) - $t0" | bc) s; arp table_fulls +$(( $(fulls) - f0 )); softnet drops +$(( $(drops) - d0 )); root neighbours $(ip neigh show dev "$BR" | wc -l)"
