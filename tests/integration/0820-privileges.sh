#!/usr/bin/env bash
# What a running `probe run` keeps once its capture handles are open
# (issue 9), read from /proc/PID/status while a step waits on a slow
# server (nginx /slow, 3 s):
#   - root with `user nobody` in the config: every uid and gid nobody's,
#     no group but nobody's own;
#   - root without a user: still uid 0;
#   - nobody with file capabilities (setcap cap_net_raw+ep on a copy of
#     the binary, nothing inherited);
# and in all three: CAP_NET_RAW alone in the permitted and effective sets
# (kept to open an interface a step turns out to need), nothing
# inheritable or ambient, NoNewPrivs 1.
# In each case the run still captured (capture "on", rtt_ms from the
# packets) and was stored, and its files are 0600 in 0700 directories.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_servers.sh"

[ "$(id -u)" -eq 0 ] || { skip "privileges of a running probe" "needs root"; finish; }
command -v setcap >/dev/null && command -v setpriv >/dev/null ||
	{ skip "privileges of a running probe" "setcap/setpriv missing"; finish; }
SLOW_MS=3000 servers_start "$T" || { not_ok "test servers start"; finish; }
chmod 711 "$T"
W=$T/w
mkdir -p "$W" && chmod 1777 "$W"
cat >"$W/s.scn" <<EOF
scenario priv
resolver 127.0.0.1:$DNS_PORT
timeout 20s
defaults ca=$T/certs/ca.pem
http GET http://demo.probe.test:$HTTP_PORT/slow name=slow expect status=200
EOF
chmod 644 "$W/s.scn" "$T/certs/ca.pem" 2>/dev/null

NOBODY_UID=$(id -u nobody) NOBODY_GID=$(id -g nobody)

# watch NAME CMD...: CMD in the background; once its effective set is
# down to CAP_NET_RAW (or after 2.5 s, to fail below) and again 0.2 s
# later -- the slow step keeps it running for 3 s -- /proc/PID/status into
# $W/NAME.status
watch() {
	local name=$1 pid i
	shift
	"$@" >"$W/$name.out" 2>"$W/$name.err" &
	pid=$!
	for ((i = 0; i < 50; i++)); do
		grep -q '^CapEff:[[:space:]]*0000000000002000$' "/proc/$pid/status" 2>/dev/null && break
		sleep 0.05
	done
	sleep 0.2
	cp "/proc/$pid/status" "$W/$name.status" 2>/dev/null
	wait "$pid"
	echo $? >"$W/$name.rc"
}
field() { awk -v k="$2:" '$1 == k { $1 = ""; sub(/^ /, ""); print }' "$W/$1.status"; }
check() { # NAME UID GID WHAT
	local n=$1 uid=$2 gid=$3 what=$4
	[ -s "$W/$n.status" ] || { not_ok "$what: /proc/PID/status read while running"; return; }
	ok "$what: /proc/PID/status read while the run waited on the server"
	expect_eq "$(field "$n" Uid)" "$uid $uid $uid $uid" "$what: Uid real/effective/saved/fs"
	expect_eq "$(field "$n" Gid)" "$gid $gid $gid $gid" "$what: Gid real/effective/saved/fs"
	for s in CapInh CapAmb; do
		expect_eq "$(field "$n" $s)" 0000000000000000 "$what: $s empty"
	done
	# CAP_NET_RAW is capability 13
	for s in CapPrm CapEff; do
		expect_eq "$(field "$n" $s)" 0000000000002000 "$what: $s holds CAP_NET_RAW alone"
	done
	expect_eq "$(field "$n" NoNewPrivs)" 1 "$what: NoNewPrivs"
	expect_eq "$(cat "$W/$n.rc")" 0 "$what: the run ends ok"
	expect_eq "$(sql "$W/$n.db" "SELECT capture FROM runs")" on "$what: the run captured its packets"
	expect_eq "$(sql "$W/$n.db" "SELECT count(*) FROM connections WHERE source = 'pcap' AND rtt_ms IS NOT NULL")" 1 \
		"$what: rtt_ms from the packets"
}

# root, dropping to nobody
printf 'user = nobody\n' >"$W/user.conf"
watch user "$PROBE" run --db "$W/user.db" --spool "$W/user.spool" --region p \
	--config "$W/user.conf" "$W/s.scn"
check user "$NOBODY_UID" "$NOBODY_GID" "root with user nobody"
g=$(field user Groups)
[ -z "$g" ] || [ "$g" = "$NOBODY_GID" ] && ok "root with user nobody: no group but nobody's own ($g)" ||
	not_ok "root with user nobody: no group but nobody's own" "Groups: $g"

# root without a user: uid 0 kept, capabilities gone
watch root "$PROBE" run --db "$W/root.db" --spool "$W/root.spool" --region p \
	--config /dev/null "$W/s.scn"
check root 0 0 "root without a user"

# nobody with file capabilities on a copy of the binary
cp "$PROBE" "$W/probe-caps" && chmod 755 "$W/probe-caps" &&
	setcap cap_net_raw+ep "$W/probe-caps" || { not_ok "setcap on a copy of probe"; finish; }
watch caps setpriv --reuid nobody --regid nogroup --clear-groups --inh-caps=-all \
	"$W/probe-caps" run --db "$W/caps.db" --spool "$W/caps.spool" --region p \
	--config /dev/null "$W/s.scn"
check caps "$NOBODY_UID" "$(getent group nogroup | cut -d: -f3)" "nobody with cap_net_raw+ep"

# what they wrote: files 0600, directories 0700
bad=$(find "$W"/*.db* "$W"/*.spool -type f ! -perm 600 -o -type d ! -perm 700 2>/dev/null)
expect_eq "$bad" "" "every file probe wrote is 0600, every directory 0700"
finish
