#!/usr/bin/env bash
# 0730-escalation.sh: escalation pcaps on the bench (5 ms each way; the
# backend, pbserver, thinks 200 ms).
#   - `threshold think_ms > 100`: exactly one pcapng per run, mode 0600 in
#     a 0700 spool, with its path, size and sha256 in the store; at 500:
#     none;
#   - the file holds the run's packets only: another scenario run at the
#     same time by the same probe process (--parallel 2) and a curl from
#     the same namespace are absent;
#   - a finding's frame numbers select the packets it is about (tshark
#     -Y frame.number==N);
#   - no byte of a planted secret (an Authorization header, a POST body,
#     over cleartext HTTP and HTTPS) is in the file;
#   - with `keylog on`, tshark decrypts the HTTPS request from the file
#     alone;
#   - retention by bytes at the end of a run prunes the oldest files and
#     marks their rows.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_bench.sh"
bench_usable || { skip "escalation pcaps" "$BENCH_SKIP"; finish; }
command -v tshark >/dev/null || { skip "escalation pcaps" "no tshark"; finish; }

bench_up --delay-ms 5 && bench_dns_start && bench_pbserver_start ||
	{ not_ok "bench with DNS and pbserver"; finish; }
H=demo.probe.test
scn() { # NAME LIMIT KEYLOG: a scenario file
	cat >"$T/$1.scn" <<EOF
scenario $1
resolver $BENCH_RESOLVER
defaults ca=$CERTS_DIR/ca.pem
threshold think_ms > $2
keylog $3
http POST http://$H:$PBSERVER_PORT/?think_ms=200 name=post body='password=SECRET-PLANTED-BODY' header='Authorization: Bearer SECRET-PLANTED-AUTH' expect status=200
http GET https://$H:$PBSERVER_TLS_PORT/?think_ms=200 name=tls http=1.1 header='Authorization: Bearer SECRET-PLANTED-TLS' expect status=200
EOF
}
scn slow 100 off
scn calm 500 off
scn keys 100 on
cat >"$T/other.scn" <<EOF
scenario other
resolver $BENCH_RESOLVER
http GET http://$H:$PBSERVER_PORT/?think_ms=100&other=1 name=other expect status=200
EOF
run() { # ARGS...: probe run in region 1, JSON to $T/run.json
	bench_exec 1 "$PROBE" run --json --db "$T/p.db" --spool "$T/spool" \
		--region r1 --config /dev/null "$@" >"$T/run.json" 2>"$T/err"
	rc=$? out=$(cat "$T/run.json") err=$(cat "$T/err")
}
pcaps() { ls "$T/spool/pcaps" 2>/dev/null | grep -c '\.pcapng$'; }

# an unrelated curl from the same namespace while the runs go on
bench_exec 1 sh -c "for i in \$(seq 40); do curl -s -o /dev/null 'http://$BENCH_SERVER_IP4:$PBSERVER_PORT/?think_ms=20&noise=1'; done" &
noise=$!
run --parallel 2 "$T/slow.scn" "$T/other.scn"
wait $noise
expect_rc 1 "a run over its threshold exits 1"
expect_eq "$(pcaps)" 1 "one pcapng for the breaching run (none for the other scenario)"
f=$(ls "$T"/spool/pcaps/*.pcapng | head -1)
expect_eq "$(stat -c %a "$f")" 600 "the file is mode 0600"
expect_eq "$(stat -c %a "$T/spool/pcaps")" 700 "its directory 0700"
id=$(sqlite3 "$T/p.db" "SELECT run_id FROM runs WHERE scenario = 'slow'")
expect_eq "$(basename "$f")" "$id.pcapng" "named by the run id"
expect_eq "$(sqlite3 "$T/p.db" "SELECT path || ' ' || bytes || ' ' || sha256 || ' ' || reason FROM pcaps")" \
	"pcaps/$id.pcapng $(stat -c %s "$f") $(sha256sum "$f" | cut -d' ' -f1) breach" \
	"the store has its path, size, sha256 and reason"
expect_eq "$(grep -c SECRET-PLANTED "$f")" 0 "no planted secret in the file"
tshark -r "$f" >"$T/f.txt" 2>"$T/f.err"
expect_eq "$?" 0 "tshark reads it" 
# the run's own connections only: its client ports, and no other one
ports=$(python3 -c 'import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r["scenario"] == sys.argv[2]:
        for s in r["steps"]:
            for c in s["connections"]:
                print(c["src_port"])' "$T/run.json" slow | sort -u | paste -sd' ' -)
others=$(python3 -c 'import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r["scenario"] == "other":
        for s in r["steps"]:
            for c in s["connections"]:
                print(c["src_port"])' "$T/run.json" | paste -sd' ' -)
got=$(tshark -r "$f" -Y tcp -T fields -e tcp.srcport -e tcp.dstport 2>/dev/null |
	awk -v p="$PBSERVER_PORT" -v t="$PBSERVER_TLS_PORT" '{ print ($1 == p || $1 == t) ? $2 : $1 }' | sort -u | paste -sd' ' -)
expect_eq "$got" "$ports" "its TCP frames are the run's own connections ($ports)"
[ -n "$others" ] && ! grep -qw -e "$(echo $others | sed 's/ /\\|/g')" <<<"$got" &&
	ok "the other scenario's connection ($others) is absent" ||
	not_ok "the other scenario's connection ($others) in the file: $got"
expect_eq "$(tshark -r "$f" -Y 'http.request.uri contains "noise"' 2>/dev/null | wc -l)" 0 "the concurrent curl is absent"
# the evidence: SLOW_SERVER on the cleartext step cites the request's
# last segment and the response's first
fr=$(python3 -c 'import json,sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r["scenario"] != "slow": continue
    for s in r["steps"]:
        if s["name"] == "post":
            print(",".join(str(n) for f in s["findings"] if f["code"] == "SLOW_SERVER" for n in f["packets"]))' "$T/run.json")
req=${fr%%,*} resp=${fr##*,}
[ -n "$req" ] && [ "$req" != "$resp" ] || not_ok "SLOW_SERVER frames: '$fr'"
expect_eq "$(tshark -r "$f" -Y "frame.number == $req" -T fields -e tcp.dstport -e tcp.len 2>/dev/null | awk '{ print $1, ($2 > 0) }')" \
	"$PBSERVER_PORT 1" "frame $req: the request's data, client to server"
expect_eq "$(tshark -r "$f" -Y "frame.number == $resp" -T fields -e tcp.srcport -e tcp.len 2>/dev/null | awk '{ print $1, ($2 > 0) }')" \
	"$PBSERVER_PORT 1" "frame $resp: the response's first data, server to client"
expect_match "$(tshark -r "$f" -Y "frame.number == $resp" -T fields -e frame.comment 2>/dev/null)" "SLOW_SERVER" \
	"and it carries the finding as a comment"
# cleartext HTTP payload is cut, TLS records keep their headers, DNS whole
expect_eq "$(tshark -r "$f" -Y "tcp.port == $PBSERVER_PORT && frame.cap_len > frame.len" 2>/dev/null | wc -l)" 0 "no frame longer than it was"
n=$(tshark -r "$f" -Y "tls.record.content_type == 23" 2>/dev/null | wc -l)
[ "$n" -ge 2 ] && ok "TLS application records still parse ($n frames)" || not_ok "TLS records: $n frames"
expect_match "$(tshark -r "$f" -Y dns -T fields -e dns.qry.name 2>/dev/null | sort -u | paste -sd' ' -)" "$H" "DNS kept whole"

run "$T/calm.scn"
expect_rc 0 "under the threshold: exit 0"
expect_eq "$(pcaps)" 1 "and no pcapng written"

run "$T/keys.scn"
kf=$T/spool/pcaps/$(sqlite3 "$T/p.db" "SELECT run_id FROM runs WHERE scenario = 'keys'").pcapng
[ -f "$kf" ] && ok "keylog on: a pcapng" || not_ok "keylog on: no pcapng"
expect_eq "$(sqlite3 "$T/p.db" "SELECT keylog FROM pcaps p JOIN runs r ON r.seq = p.run_seq WHERE r.scenario = 'keys'")" 1 \
	"its row says it holds TLS secrets"
expect_match "$(tshark -r "$kf" -Y http.request -T fields -e http.request.method -e http.request.uri 2>/dev/null | paste -sd' ' -)" \
	"GET[[:space:]]/\\?think_ms=200" "tshark decrypts the HTTPS request from the file alone"
expect_eq "$(grep -c SECRET-PLANTED-BODY "$kf")" 0 "still no cleartext HTTP payload"

# retention by bytes at the end of a run: keep about one file
sz=$(stat -c %s "$f")
bench_exec 1 env PROBE_RETENTION_BYTES=$((sz + sz / 2)) "$PROBE" run --db "$T/p.db" \
	--spool "$T/spool" --region r1 --config /dev/null "$T/slow.scn" >/dev/null 2>"$T/err"
expect_eq "$(sqlite3 "$T/p.db" "SELECT count(*) FROM pcaps WHERE pruned = 0")" 1 "retention kept one file within the byte budget"
expect_eq "$(sqlite3 "$T/p.db" "SELECT count(*) FROM pcaps WHERE pruned = 1 AND pruned_at IS NOT NULL")" 2 \
	"the two older ones are pruned, rows kept and marked"
[ ! -e "$f" ] && ok "the oldest file is gone" || not_ok "the oldest file is still there"
expect_eq "$(pcaps)" 1 "one file left in the spool"
finish
