#!/usr/bin/env bash
# The store survives kill -9: probes killed at random moments (while they
# run, while they write) leave a database that passes integrity_check, in
# which every stored run is whole (all its steps; a run is one
# transaction), and that the next run writes to as usual.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_servers.sh"
servers_start "$T" || { not_ok "test servers start"; finish; }

cat >"$T/k.scn" <<EOF
scenario it-kill9
resolver 127.0.0.1:$DNS_PORT
defaults ca=$T/certs/ca.pem
dns  demo.probe.test A
tcp  demo.probe.test:$HTTPS_PORT
tls  demo.probe.test:$HTTPS_PORT
http GET https://demo.probe.test:$HTTPS_PORT/ expect status=200
EOF
killed=0
for i in $(seq 1 40); do
	"$PROBE" run --db "$T/k.db" --spool "$T/spool" --region it \
		--config /dev/null "$T/k.scn" >/dev/null 2>&1 &
	pid=$!
	# 0 to 30 ms: some die before, some while, some after they write
	sleep "$(printf '0.%03d' $((RANDOM % 25)))"
	kill -9 "$pid" 2>/dev/null && killed=$((killed + 1))
	wait "$pid" 2>/dev/null
done
# the test means something only if some probes died before they finished
[ "$killed" -ge 1 ] && ok "killed $killed of 40 runs with SIGKILL" ||
	not_ok "killed none of 40 runs: nothing was tested"
expect_eq "$(sql "$T/k.db" 'PRAGMA integrity_check')" ok "integrity_check ok after the kills"
expect_eq "$(sql "$T/k.db" 'SELECT count(*) FROM runs WHERE seq NOT IN
	(SELECT run_seq FROM steps GROUP BY run_seq HAVING count(*) = 4)')" 0 \
	"every stored run has all four steps"
run_probe run --db "$T/k.db" --spool "$T/spool" --region it --config /dev/null "$T/k.scn"
expect_rc 0 "a run after the kills works and is stored"
n=$(sql "$T/k.db" 'SELECT count(*) FROM runs')
[ "$n" -ge 1 ] && ok "$n runs stored in all" || not_ok "runs stored"
expect_eq "$(sql "$T/k.db" 'PRAGMA integrity_check')" ok "integrity_check ok at the end"
finish
