#!/usr/bin/env bash
# bench_up --offload (lib_bench.sh): a plain veth pair, no delay element,
# TSO/GSO/GRO on, so a capture on the server's device shows TCP segments
# larger than the MSS during a bulk download (what the TUN forwarder can
# never produce: it sees only wire-sized packets).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_bench.sh"
once_per_check "0540-bench-offload"
bench_usable || { skip "bench offload" "$BENCH_SKIP"; finish; }

if bench_up --offload; then ok "bench_up --offload"; else not_ok "bench_up --offload"; finish; fi
S4=$BENCH_SERVER_IP4
expect_eq "$BENCH_MODE ${BENCH_FWD_PID_1:-none}" "veth none" "veth mode, no pbfwd"
for w in server 1; do
	if [ $w = server ]; then dev=$BENCH_SERVER_DEV_1 ns=$BENCH_SERVER_NS; else
		dev=$BENCH_CLIENT_DEV_1 ns=$BENCH_CLIENT_NS_1; fi
	expect_match "$(ip -n "$ns" -o link show dev "$dev")" 'link/ether .*link-netns' "$dev is a veth device"
	k=$(ip netns exec "$ns" ethtool -k "$dev")
	expect_eq "$(grep -E '^(tcp-segmentation-offload|generic-segmentation-offload|generic-receive-offload):' <<<"$k")" \
		"tcp-segmentation-offload: on
generic-segmentation-offload: on
generic-receive-offload: on" "ethtool -k $dev: TSO, GSO, GRO on"
done
bench_profile 1 delay_ms=5 2>/dev/null && not_ok "bench_profile refuses in veth mode" ||
	ok "bench_profile refuses in veth mode"
expect_match "$(bench_exec 1 ping -c 3 -i 0.05 -q "$S4")" ' 3 received' "ping over the veth pair"
expect_match "$(bench_exec 1 ping -6 -c 3 -i 0.05 -q "$BENCH_SERVER_IP6")" ' 3 received' "ping -6 over the veth pair"

bench_pbserver_start && ok "pbserver on the veth topology" || { not_ok "bench_pbserver_start"; finish; }
SIZE=4000000
bench_capture_start srv server "" "tcp port $PBSERVER_PORT" || not_ok "capture on the server's veth"
bench_capture_start cli 1 "" "tcp port $PBSERVER_PORT" || not_ok "capture on the client's veth"
out=$(bench_exec 1 curl -sS --max-time 10 -o /dev/null -w '%{http_code} %{size_download}' \
	"http://$S4:$PBSERVER_PORT/?size=$SIZE" 2>&1)
expect_eq "$out" "200 $SIZE" "a $SIZE-byte download"
bench_wait_closed 1 || not_ok "the client's connection closes"
fs=$(bench_capture_stop srv) || not_ok "the server-side capture is complete"
fc=$(bench_capture_stop cli) || not_ok "the client-side capture is complete"
mss=$(tshark -r "$fs" -Y 'tcp.flags.syn == 1 && tcp.flags.ack == 1' -T fields -e tcp.options.mss_val 2>/dev/null | head -n 1)
big() { # PCAP: "COUNT MAX" of the server's data segments larger than the MSS
	tshark -r "$1" -Y "ip.src == $S4 && tcp.len > ${mss:-1460}" -T fields -e tcp.len 2>/dev/null |
		sort -n | awk '{ n++; m = $1 } END { print n + 0, m + 0 }'
}
read -r n mx < <(big "$fs")
if [ "${mss:-0}" -gt 0 ] && [ "$n" -gt 0 ]; then
	ok "server side: $n segments larger than the MSS ($mss), up to $mx bytes (TSO)"
else not_ok "server side: segments larger than the MSS" "mss ${mss:-?}, $n larger"; fi
read -r n mx < <(big "$fc")
if [ "$n" -gt 0 ]; then ok "client side: $n segments larger than the MSS, up to $mx bytes"; else
	not_ok "client side: segments larger than the MSS"; fi
finish
