#!/usr/bin/env bash
# The command line: --version, help, every command's --help, exit codes of
# commands not implemented yet, the configuration order, and that README
# and the man page name every command the program has.
. "$(dirname "$0")/lib.sh"

run_probe --version
expect_rc 0 "--version"
expect_match "$out" '^probe [0-9]+\.[0-9]+\.[0-9]+ \(git ' "--version names probe's version"
expect_match "$out" 'libcurl .*c-ares .*OpenSSL .*libpcap .*SQLite ' "--version names the libraries"

run_probe --help
expect_rc 0 "--help"
cmds=$(awk '/^Commands:/ {on = 1; next} on && /^  [a-z]/ {print $1} on && /^$/ {exit}' "$T/out")
expect_eq "$(echo $cmds)" "run check analyze report baseline compare pcap serve collect" "--help lists the commands of DESIGN section 10"

run_probe
expect_rc 2 "no command: usage, exit 2"
run_probe frobnicate
expect_rc 2 "unknown command exits 2"
expect_match "$err" "unknown command 'frobnicate'" "unknown command named"
run_probe help frobnicate
expect_rc 2 "help on an unknown command exits 2"

for c in $cmds; do
	run_probe help "$c"; h1=$out; r1=$rc
	run_probe "$c" --help; h2=$out
	[ "$r1" -eq 0 ] && [ "$rc" -eq 0 ] && [ -n "$h1" ] && [ "$h1" == "$h2" ] &&
		ok "help $c == $c --help" || not_ok "help $c == $c --help" "$h1" "---" "$h2"
	expect_match "$h1" "^usage: probe $c" "help $c starts with its usage line"
	grep -q "probe $c\b\|\`probe $c\b" README.md && ok "README names probe $c" || not_ok "README names probe $c"
	grep -q "^\.B probe $c\|^\.B $c\$" docs/probe.1 && ok "man page names $c" || not_ok "man page names $c"
done

run_probe pcap
expect_rc 2 "pcap without subcommand: usage"
run_probe pcap frob
expect_rc 2 "pcap with an unknown subcommand"
run_probe report --html "$T/r.html" --json --db "$T/r.db"
expect_rc 2 "report --html with --json: a usage error"
run_probe report --color sometimes --db "$T/r.db"
expect_rc 2 "report --color takes auto, always or never"

# configuration order: flags over PROBE_* over the file over defaults
cat >"$T/probe.conf" <<CONF
# comment
region = from-file
probe_id = p1   # trailing comment
db = $T/file.db
CONF
region_of() { awk '/^run as/ {sub(",", "", $4); print $4}' "$T/out"; }
run_probe run --dry-run --config "$T/probe.conf" scenarios/demo.scn
expect_eq "$(region_of)" from-file "config file region used"
expect_match "$out" "probe_id p1, store $T/file.db," "config file probe_id and db used"
PROBE_REGION=from-env run_probe run --dry-run --config "$T/probe.conf" scenarios/demo.scn
expect_eq "$(region_of)" from-env "PROBE_REGION over the file"
PROBE_REGION=from-env run_probe run --dry-run --config "$T/probe.conf" --region from-flag scenarios/demo.scn
expect_eq "$(region_of)" from-flag "--region over PROBE_REGION"
PROBE_CONFIG="$T/probe.conf" run_probe run --dry-run scenarios/demo.scn
expect_eq "$(region_of)" from-file "PROBE_CONFIG names the file"
run_probe run --dry-run --config /dev/null scenarios/demo.scn
expect_eq "$(region_of)" local "default region is 'local'"

echo "colour = blue" >"$T/bad.conf"
run_probe run --dry-run --config "$T/bad.conf" scenarios/demo.scn
expect_rc 2 "unknown config key exits 2"
expect_eq "$err" "probe run: $T/bad.conf:1: unknown key 'colour'" "config error names file:line"
printf 'region = eu west\n' >"$T/bad2.conf"
run_probe run --dry-run --config "$T/bad2.conf" scenarios/demo.scn
expect_rc 2 "invalid region exits 2"
expect_match "$err" "bad2.conf:1: invalid region 'eu west'" "invalid value named"
run_probe run --dry-run --config "$T/missing.conf" scenarios/demo.scn
expect_rc 2 "an explicit config file that is missing is an error"
run_probe run --dry-run --region 'a b' --config /dev/null scenarios/demo.scn
expect_rc 2 "invalid --region exits 2"

# the region notice: only commands that record runs give it (report does not)
run_probe report --db "$T/n.db" --config /dev/null
expect_eq "$err" "" "report gives no region notice"

finish
