# shellcheck shell=bash
# Network namespaces as "hosts" for the network suites. A test names
# everything it makes with a prefix $P ("ctrtest-<suite><n>-$$"), its
# host $H; source after common.bash.
#
#   netns_outside             $P-out, a machine on the host's LAN that also
#                             plays the internet: host 192.168.77.1/24 on
#                             up0, out 192.168.77.2/24; it has no route to
#                             any container network, so an answer from it
#                             proves the masquerade
#   netns_remove_all PREFIX   every namespace named PREFIX*: what runs in
#                             it (name servers, containers) killed by pid,
#                             then the namespace deleted

netns_outside() {
  ip netns add "$P-out"
  ip -n "$H" link add up0 type veth peer name up0 netns "$P-out"
  ip -n "$H" addr add 192.168.77.1/24 dev up0
  ip -n "$H" link set up0 up
  ip -n "$P-out" addr add 192.168.77.2/24 dev up0
  ip -n "$P-out" link set up0 up
  ip -n "$P-out" link set lo up
}

netns_remove_all() {
  local ns pid
  for ns in $(ip netns list | awk '{print $1}' | grep "^$1"); do
    for pid in $(ip netns pids "$ns" 2>/dev/null); do
      kill -9 "$pid" 2>/dev/null || true
    done
    ip netns del "$ns" 2>/dev/null || true
  done
}
