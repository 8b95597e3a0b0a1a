#!/usr/bin/env bash
# deploy/: install.sh (--help, a dry run that changes nothing, a staged
# install under a temporary root, run twice), the systemd units
# (systemd-analyze verify, the hardening they promise), the Grafana JSON,
# the YAML of Ansible and Prometheus, and the metric names the alerts and
# the dashboard use.  promtool and ansible-playbook are used when
# installed, skipped otherwise.
. "$(dirname "$0")/lib.sh"
# nothing of probe's own code runs here: the plain half of `make check` only
if [ "${SUITE:-}" = asan ]; then
	skip "deploy/ files" "no probe code to sanitize; run in the plain half"
	exit 0
fi

D=deploy
I=$D/install.sh

# ---- install.sh -------------------------------------------------------------
for s in "$I"; do
	bash -n "$s" && ok "bash -n $s" || not_ok "bash -n $s"
done
if command -v shellcheck >/dev/null; then
	o=$(shellcheck -S warning "$I" 2>&1) && ok "shellcheck $I" || not_ok "shellcheck $I" "$o"
else
	skip "shellcheck $I" "shellcheck not installed"
fi
head -5 "$I" | grep -q 'set -euo pipefail' && ok "install.sh: set -euo pipefail" ||
	not_ok "install.sh: set -euo pipefail"

out=$("$I" --help 2>&1); rc=$?
expect_rc 0 "install.sh --help exits 0"
expect_match "$out" '^usage: deploy/install.sh' "--help starts with its usage line"
for o in --prefix --user --binary --setcap --cron --root --dry-run; do
	grep -q -- "^  $o" <<<"$out" && ok "--help names $o" || not_ok "--help names $o"
done
out=$("$I" --frobnicate 2>&1); rc=$?
expect_rc 2 "install.sh with an unknown option exits 2"

# A dry run as it would run on a host (no --root): prints, changes nothing.
# The user name is one no host has, so its creation would show.
u=probe-it-$$
sys_paths="/etc/probe /etc/probe.conf /var/lib/probe /etc/cron.d/probe
	/etc/systemd/system/probe@.service /etc/systemd/system/probe@.timer
	/etc/systemd/system/probe-serve.service"
snapshot() {
	for p in $sys_paths; do
		if [ -e "$p" ]; then stat -c '%n %a %U %G %Y %s' "$p"; else echo "$p absent"; fi
	done
	getent passwd "$u" || echo "no user $u"
}
before=$(snapshot)
out=$("$I" --dry-run --prefix "$T/prefix" --user "$u" --cron 2>&1); rc=$?
expect_rc 0 "install.sh --dry-run exits 0"
expect_match "$out" "dry run: nothing was changed" "dry run says it changed nothing"
expect_match "$out" "^would: create system user $u" "dry run: would create the user"
expect_match "$out" "make -C .* install PREFIX=$T/prefix DESTDIR=" "dry run: would make install into the prefix"
expect_match "$out" "^would: file capability cap_net_raw\\+ep" "dry run: --cron would set the file capability"
expect_match "$out" "^would: serve token /etc/probe/serve.token" "dry run: would generate the serve token"
expect_match "$out" "^Next steps:" "dry run prints the next steps"
[ ! -e "$T/prefix" ] && ok "dry run created nothing in the prefix" || not_ok "dry run created $T/prefix"
after=$(snapshot)
expect_eq "$after" "$before" "dry run changed nothing outside the temp dir (paths, user)"

# A staged install (--root), twice.
R=$T/root
bin=$PROBE
[ -x "$bin" ] || { bin=$T/fake-probe; printf '#!/bin/sh\nexit 0\n' >"$bin"; chmod 755 "$bin"; }
extra=()
[ "$(id -u)" -eq 0 ] && command -v setcap >/dev/null && extra=(--cron)
out=$("$I" --root "$R" --binary "$bin" "${extra[@]}" 2>&1); rc=$?
expect_rc 0 "staged install exits 0"
mode() { stat -c '%a' "$1" 2>/dev/null || echo absent; }
expect_eq "$(mode "$R/var/lib/probe")" 700 "/var/lib/probe is 0700"
expect_eq "$(mode "$R/etc/probe")" 750 "/etc/probe is 0750"
expect_eq "$(mode "$R/etc/probe/scenarios")" 750 "/etc/probe/scenarios is 0750"
expect_eq "$(mode "$R/etc/probe/serve.token")" 600 "serve token is 0600"
expect_match "$(cat "$R/etc/probe/serve.token" 2>/dev/null)" '^[0-9a-f]{64}$' "serve token: 32 random bytes in hex"
expect_eq "$(mode "$R/usr/local/bin/probe")" 755 "binary installed 0755"
expect_eq "$(mode "$R/usr/local/share/man/man1/probe.1")" 644 "man page installed"
cmp -s "$R/etc/probe.conf" "$D/probe.conf.example" && ok "/etc/probe.conf from the example" ||
	not_ok "/etc/probe.conf from the example"
for u2 in probe@.service probe@.timer probe-serve.service; do
	cmp -s "$R/etc/systemd/system/$u2" "$D/$u2" && ok "unit $u2 installed" || not_ok "unit $u2 installed"
done
if [ ${#extra[@]} -gt 0 ]; then
	expect_match "$(getcap "$R/usr/local/bin/probe")" 'cap_net_raw[+=]ep' "--cron: binary has cap_net_raw+ep"
	[ -f "$R/etc/cron.d/probe" ] && ok "--cron: cron entry installed" || not_ok "--cron: cron entry installed"
else
	skip "--cron (setcap)" "not root or no setcap"
fi
tok=$(cat "$R/etc/probe/serve.token" 2>/dev/null)
echo "region = test-region" >"$R/etc/probe.conf"
out=$("$I" --root "$R" --binary "$bin" "${extra[@]}" 2>&1); rc=$?
expect_rc 0 "staged install again exits 0"
expect_eq "$(cat "$R/etc/probe/serve.token")" "$tok" "again: the serve token is kept"
expect_eq "$(cat "$R/etc/probe.conf")" "region = test-region" "again: an existing /etc/probe.conf is kept"
expect_match "$out" "^kept: $R/etc/probe.conf" "again: says what it kept"
out=$("$I" --root "$T/root2" --prefix /opt/probe --binary "$bin" 2>&1); rc=$?
expect_rc 0 "staged install with --prefix /opt/probe"
expect_match "$(grep ^ExecStart= "$T/root2/etc/systemd/system/probe@.service")" '^ExecStart=/opt/probe/bin/probe run ' \
	"--prefix: the units run PREFIX/bin/probe"

# ---- systemd units ----------------------------------------------------------
svc=$D/probe@.service serve=$D/probe-serve.service
has() { grep -qx -- "$2" "$1" && ok "$(basename "$1"): $2" || not_ok "$(basename "$1"): $2"; }
has "$svc" 'ExecStart=/usr/local/bin/probe run --jitter 30s /etc/probe/scenarios/%i.scn'
has "$svc" 'SuccessExitStatus=1 4'
has "$svc" 'AmbientCapabilities=CAP_NET_RAW'
has "$svc" 'CapabilityBoundingSet=CAP_NET_RAW'
expect_match "$(grep ^RestrictAddressFamilies= "$svc")" 'AF_PACKET' "probe@.service allows AF_PACKET (libpcap)"
expect_match "$(grep ^RestrictAddressFamilies= "$svc")" 'AF_NETLINK' "probe@.service allows AF_NETLINK (libpcap)"
has "$serve" 'CapabilityBoundingSet='
has "$serve" 'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX'
has "$serve" 'LoadCredential=token:/etc/probe/serve.token'
for f in "$svc" "$serve"; do
	for k in NoNewPrivileges=yes ProtectSystem=strict ProtectHome=yes PrivateTmp=yes \
		PrivateDevices=yes ProtectKernelTunables=yes ProtectKernelModules=yes \
		ProtectKernelLogs=yes ProtectControlGroups=yes RestrictNamespaces=yes \
		LockPersonality=yes MemoryDenyWriteExecute=yes SystemCallFilter=@system-service; do
		has "$f" "$k"
	done
done
if command -v systemd-analyze >/dev/null; then
	# verify wants ExecStart's binary to exist: point it at the staged one
	V=$T/verify; mkdir -p "$V"
	for f in probe@.service probe@.timer probe-serve.service; do
		sed "s|/usr/local/bin/probe|$R/usr/local/bin/probe|" "$D/$f" >"$V/$f"
	done
	cp "$V/probe@.service" "$V/probe@checkout.service"
	cp "$V/probe@.timer" "$V/probe@checkout.timer"
	o=$(cd "$V" && timeout 20 systemd-analyze verify --man=no ./probe-serve.service \
		./probe@checkout.service ./probe@checkout.timer 2>&1); rc=$?
	[ $rc -eq 0 ] && [ -z "$o" ] && ok "systemd-analyze verify: the units, no warnings" ||
		not_ok "systemd-analyze verify: the units, no warnings" "exit $rc" "$o"
else
	skip "systemd-analyze verify" "systemd-analyze not installed"
fi

# ---- Grafana, YAML, metric names --------------------------------------------
G=$D/grafana/probe-dashboard.json
o=$(python3 - "$G" 2>&1 <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
assert 36 <= d["schemaVersion"] <= 40, d["schemaVersion"]
names = [v["name"] for v in d["templating"]["list"]]
assert "region" in names and "scenario" in names, names
exprs = " ".join(t["expr"] for p in d["panels"] for t in p["targets"])
for m in ("probe_success", "probe_rtt_seconds_bucket", "probe_think_seconds_bucket",
          "probe_breaches_total", "probe_last_run_timestamp_seconds"):
    assert m in exprs, m
assert "histogram_quantile(0.95" in exprs and "histogram_quantile(0.5" in exprs
ids = [p["id"] for p in d["panels"]]
assert len(ids) == len(set(ids)), "duplicate panel ids"
EOF
) && ok "grafana dashboard: valid JSON, region/scenario variables, the panels' metrics" ||
	not_ok "grafana dashboard: valid JSON, region/scenario variables, the panels' metrics" "$o"

yamls=$(find $D/ansible $D/prometheus -name '*.yml' | sort)
if python3 -c 'import yaml' 2>/dev/null; then
	for y in $yamls; do
		o=$(python3 -c 'import sys, yaml; yaml.safe_load(open(sys.argv[1]))' "$y" 2>&1) &&
			ok "YAML parses: $y" || not_ok "YAML parses: $y" "$o"
	done
	o=$(python3 - $D/prometheus/alerts.yml 2>&1 <<'EOF'
import sys, yaml
r = {x["alert"]: x for g in yaml.safe_load(open(sys.argv[1]))["groups"] for x in g["rules"]}
for a in ("ProbeFailing", "ProbeStale", "ThresholdBreachedLong", "ProbeThinkTimeHigh"):
    assert a in r and r[a]["expr"] and r[a]["for"], a
assert "histogram_quantile" in r["ProbeThinkTimeHigh"]["expr"]
EOF
	) && ok "alerts.yml: failing, stale, breaching, think-time rules" ||
		not_ok "alerts.yml: failing, stale, breaching, think-time rules" "$o"
else
	skip "YAML parse" "python3 yaml module not installed"
fi

# every probe_* name the alerts and the dashboard use is one probe serve
# exports (probe_id is a label)
printf '%s\n' probe_success probe_last_run_timestamp_seconds probe_runs_total \
	probe_breaches_total probe_rtt_seconds_bucket probe_think_seconds_bucket \
	probe_ttfb_wire_seconds_bucket probe_id >"$T/known"
bad=$(grep -ohE '\bprobe_[a-z_]+' $D/prometheus/alerts.yml $G | sort -u | grep -vxF -f "$T/known")
expect_eq "$bad" "" "alerts and dashboard use only exported metric names"

if command -v promtool >/dev/null; then
	P=$T/prom; mkdir -p "$P"
	cp $D/prometheus/alerts.yml "$P/"
	sed "s|credentials_file: /etc/prometheus/probe-tokens/|credentials_file: $P/|" \
		$D/prometheus/prometheus.yml >"$P/prometheus.yml"
	grep -o "$P/[^ ]*\.token" "$P/prometheus.yml" | xargs -r touch
	o=$(timeout 20 promtool check config "$P/prometheus.yml" 2>&1) && ok "promtool check config" ||
		not_ok "promtool check config" "$o"
	o=$(timeout 20 promtool check rules $D/prometheus/alerts.yml 2>&1) && ok "promtool check rules" ||
		not_ok "promtool check rules" "$o"
else
	skip "promtool check config/rules" "promtool not installed"
fi

if command -v ansible-playbook >/dev/null; then
	o=$(cd $D/ansible && timeout 60 ansible-playbook --syntax-check \
		-i inventory.example.ini site.yml 2>&1) && ok "ansible-playbook --syntax-check" ||
		not_ok "ansible-playbook --syntax-check" "$o"
else
	skip "ansible-playbook --syntax-check" "ansible not installed"
fi

finish
