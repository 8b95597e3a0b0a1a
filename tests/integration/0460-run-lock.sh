#!/usr/bin/env bash
# Overlapping runs of one scenario (cron firing while the last run still
# goes): the second exits 4 at once with a message, while the first holds
# the scenario's lock and finishes normally; another scenario is not held
# up; once the first is done the scenario runs again.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_servers.sh"
export SLOW_MS=2000 # the first run holds the lock at least this long
servers_start "$T" || { not_ok "test servers start"; finish; }
C=$T/certs
cat >"$T/lock.scn" <<EOF
scenario it-lock
resolver 127.0.0.1:$DNS_PORT
timeout 20s
defaults ca=$C/ca.pem
http GET https://demo.probe.test:$HTTPS_PORT/slow name=slow expect status=200 body*='slow'
EOF
cat >"$T/other.scn" <<EOF
scenario it-other
resolver 127.0.0.1:$DNS_PORT
dns demo.probe.test A name=other
EOF
for f in lock other; do
	run_probe check "$T/$f.scn"
	expect_rc 0 "$f.scn is valid"
done
args=(run --json --db "$T/p.db" --spool "$T/spool" --region it --config /dev/null)

# the first run, in the background
"$PROBE" "${args[@]}" "$T/lock.scn" >"$T/first.out" 2>"$T/first.err" &
first=$!
# wait until it is inside the run: connected to nginx for /slow
inside=0
for ((i = 0; i < 500; i++)); do
	if ss -Htn state established "( dport = :$HTTPS_PORT )" 2>/dev/null | grep -q .; then inside=1; break; fi
	srv_alive $first || break
	sleep 0.01
done
if [ $inside = 0 ]; then
	wait $first
	rc=$? out=$(cat "$T/first.out") err=$(cat "$T/first.err")
	not_ok "the first run reaches nginx" "exit $rc" "${err:0:500}"
	finish
fi
ok "the first run reached nginx"

# the second run of the same scenario, while the first holds the lock
t0=$(date +%s%N)
probe_run "$T/lock.scn"
ms=$((($(date +%s%N) - t0) / 1000000))
expect_rc 4 "an overlapping run of the same scenario exits 4"
expect_match "$err" 'it-lock' "the message names the scenario"
expect_match "$err" '[Ll]ock|another run|already running' "the message says why"
if [ $ms -lt 1000 ]; then ok "it does not wait for the lock ($ms ms)"; else not_ok "it does not wait for the lock ($ms ms)"; fi
srv_alive $first && ok "the first run is still going" || not_ok "the first run is still going"

# another scenario is not held up
probe_run "$T/other.scn"
expect_rc 0 "another scenario runs meanwhile"

wait $first
rc=$?
out=$(cat "$T/first.out") err=$(cat "$T/first.err")
expect_rc 0 "the first run finishes normally"
cp "$T/first.out" "$T/run.json"
expect_json '[r["scenario"], r["ok"], st("slow")["status"]]' '["it-lock", true, 200]' "first run's JSON"
expect_json "st('slow')['ttfb_ms'] >= $SLOW_MS" true "the first run waited for /slow"
expect_sql "SELECT count(*), sum(ok) FROM runs WHERE scenario = 'it-lock'" "1|1" "only the first run of it-lock is stored"
expect_sql "SELECT count(*) FROM runs WHERE scenario = 'it-other'" 1 "the other scenario's run is stored"

# the lock is released with the run
probe_run "$T/lock.scn"
expect_rc 0 "after the first run, the scenario runs again"
expect_sql "SELECT count(*), sum(ok) FROM runs WHERE scenario = 'it-lock'" "2|2" "two runs of it-lock stored"

# a run killed outright leaves no stale lock (flock dies with the process)
"$PROBE" "${args[@]}" "$T/lock.scn" >/dev/null 2>&1 &
victim=$!
for ((i = 0; i < 500; i++)); do
	ss -Htn state established "( dport = :$HTTPS_PORT )" 2>/dev/null | grep -q . && break
	sleep 0.01
done
kill -KILL $victim 2>/dev/null
wait $victim 2>/dev/null
probe_run "$T/lock.scn"
expect_rc 0 "a run killed with SIGKILL leaves no stale lock"
finish
