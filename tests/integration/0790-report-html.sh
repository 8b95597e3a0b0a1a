#!/usr/bin/env bash
# The HTML report looked at as a person would (issue 8): a store seeded
# through probe's own store code (tests/tools/pbseed: runs from three
# regions, us-east-1's network slow in the last hour, ap-south-1's latest
# run with findings, a breach and a pcap) is rendered with `probe report
# --html` and opened in headless Chromium (Debian's chromium, installed
# here when missing).  Screenshots at 1280 px and at a phone's 390 px are
# kept in $PROBE_ARTIFACTS (default build/artifacts: report-1280.png,
# report-390.png).  The DOM Chromium
# built (--dump-dom) must hold each region, every waterfall segment with
# the stored figure it draws, the findings with their frames and the
# verdict; the page must not be wider than the window at either width;
# nothing in it may load from elsewhere; its colours must meet WCAG
# contrast (text 4.5:1, chart marks 3:1).
. "$(dirname "$0")/lib.sh"

ART=${PROBE_ARTIFACTS:-$PWD/build/artifacts}
SEED=${PBSEED:-$PWD/build/tools/pbseed}
mkdir -p "$ART" || { not_ok "artifacts directory $ART"; finish; }

if ! command -v chromium >/dev/null; then
	if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium \
			>"$T/apt.log" 2>&1 || { apt-get update -qq >>"$T/apt.log" 2>&1 &&
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium \
				>>"$T/apt.log" 2>&1; }
	fi
	command -v chromium >/dev/null && ok "chromium installed ($(dpkg-query -W -f='${Version}' chromium))" ||
		{ not_ok "chromium installed" "$(tail -5 "$T/apt.log" 2>/dev/null)"; finish; }
fi
CHROME=(chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --no-first-run
	--disable-extensions --user-data-dir="$T/chrome")

DB=$T/seed.db
n=$("$SEED" "$DB") && ok "seeded $n runs" || { not_ok "pbseed"; finish; }
printf 'baseline_min_n = 10\n' >"$T/probe.conf"
run_probe report --db "$DB" --config "$T/probe.conf" --html "$T/report.html"
expect_rc 0 "report --html"
run_probe report --db "$DB" --config "$T/probe.conf" --json
printf '%s\n' "$out" >"$T/report.json"

# nothing loaded from anywhere: no src=, url(, @import, stylesheet links,
# scripts; links for the reader (href) are allowed
for pat in 'src=' 'url(' '@import' '<link' '<script' 'srcset' '<iframe' '<object' '<embed'; do
	grep -qiF -- "$pat" "$T/report.html" && not_ok "the page has no $pat" || ok "the page has no $pat"
done

# the screenshots a person would look at.  Headless Chromium lays a page
# out at least 500 px wide whatever --window-size says, so the phone's
# 390 px is an iframe of that width in a wrapper page (test-only; the
# report itself stays script- and frame-free).
cat >"$T/phone.html" <<'HTML'
<!DOCTYPE html><html><head><meta charset="utf-8"><style>body{margin:0}
iframe{width:390px;height:2400px;border:0;display:block}</style></head>
<body><iframe src="report.html" title="the report at 390 px"></iframe></body></html>
HTML
shot() { # WIDTH PAGE OUT
	rm -f "$3"
	timeout 120 "${CHROME[@]}" --window-size=$1,2400 --screenshot="$3" "file://$2" >"$T/shot.log" 2>&1
	python3 -c 'import struct,sys; d=open(sys.argv[1],"rb").read(24); print(struct.unpack(">I", d[16:20])[0] if d[:8]==b"\x89PNG\r\n\x1a\n" else 0)' \
		"$3" 2>/dev/null
}
pw=$(shot 1280 "$T/report.html" "$ART/report-1280.png")
[ "${pw:-0}" -eq 1280 ] && ok "screenshot at 1280 px: $ART/report-1280.png" || not_ok "screenshot at 1280 px" "$(tail -3 "$T/shot.log")"
pw=$(shot 500 "$T/phone.html" "$ART/report-390.png")
[ "${pw:-0}" -eq 500 ] && ok "screenshot at 390 px (left of a 500 px window): $ART/report-390.png" ||
	not_ok "screenshot at 390 px" "$(tail -3 "$T/shot.log")"

# the DOM as Chromium built it
timeout 120 "${CHROME[@]}" --window-size=1280,2400 --dump-dom "file://$T/report.html" \
	>"$T/dom.html" 2>"$T/dom.log"
[ -s "$T/dom.html" ] && ok "chromium --dump-dom" || { not_ok "chromium --dump-dom" "$(tail -3 "$T/dom.log")"; finish; }
dom=$(cat "$T/dom.html")
for r in eu-west-1 us-east-1 ap-south-1; do
	expect_match "$dom" "<article class=\"run\" data-region=\"$r\"" "the DOM has region $r's latest run"
	expect_match "$dom" "<g data-region=\"$r\"><polyline" "the DOM has region $r's series"
done
for s in dns connect tls request_sent network think transfer; do
	c=$(grep -o "data-segment=\"$s\"" "$T/dom.html" | wc -l)
	[ "$c" -ge 3 ] && ok "waterfall segment $s drawn ($c times)" || not_ok "waterfall segment $s drawn" "found $c"
done
expect_match "$dom" '<p class="verdict" data-verdict="NETWORK_LOCAL" data-regions="us-east-1">' "the verdict: NETWORK_LOCAL us-east-1"
expect_match "$dom" 'Verdict: <b>NETWORK_LOCAL us-east-1</b>' "the verdict in words"
expect_match "$dom" '<li data-code="RETRANSMISSIONS" data-frames="\[12,14\]">' "the finding with its frames"
expect_match "$dom" 'probe pcap fetch --regions REGIONS.conf ap-south-1 seed-ap-south-1-' \
	"the escalation pcap (not on this host: how to fetch it)"
# the same store with the pcap on this host: a file:// link to it
mkdir -p "$T/sp ool/pcaps" && : >"$T/sp ool/pcaps/$(sql "$DB" "SELECT r.run_id FROM pcaps p JOIN runs r ON r.seq = p.run_seq").pcapng"
run_probe report --db "$DB" --config "$T/probe.conf" --spool "$T/sp ool" --html -
expect_match "$out" "<a href=\"file://${T// /%20}/sp%20ool/pcaps/seed-ap-south-1-[0-9]+\.pcapng\">" \
	"a kept pcap on this host is a file:// link (percent-encoded)"
expect_match "$dom" '<svg viewBox="[^"]*" role="img" aria-labelledby=' "charts are images with a text alternative"
expect_match "$dom" '<desc id="c0-think-d">' "the chart's description"

# the figures in the DOM are the stored ones
python3 "$(dirname "$0")/report_check.py" "$DB" --json "$T/report.json" --html "$T/dom.html" \
	--sum-tol 0.3 >"$T/chk" 2>&1
cat "$T/chk"
_fails=$((_fails + $(grep -c '^not ok' "$T/chk")))
grep -q '^ok - HTML: every waterfall row' "$T/chk" || not_ok "report_check.py ran to its end" "$(tail -5 "$T/chk")"

# readable at both widths: the page itself is never wider than its
# viewport (a wrapper measures the report in an iframe of each width; the
# report has no script of its own)
for w in 1280 390; do
	cat >"$T/measure$w.html" <<HTML
<!DOCTYPE html><html><head><meta charset="utf-8"></head><body style="margin:0">
<iframe id="f" src="report.html" style="width:${w}px;height:900px;border:0"></iframe>
<script>document.getElementById("f").addEventListener("load", function () {
var m = document.createElement("meta"); m.name = "probe-layout";
m.content = this.contentDocument.documentElement.scrollWidth + " " + this.contentWindow.innerWidth;
document.head.appendChild(m); });</script></body></html>
HTML
	timeout 120 "${CHROME[@]}" --allow-file-access-from-files --window-size=1400,900 \
		--virtual-time-budget=5000 --dump-dom "file://$T/measure$w.html" >"$T/m$w.html" 2>/dev/null
	m=$(grep -oE 'name="probe-layout" content="[0-9]+ [0-9]+"' "$T/m$w.html" | grep -oE '[0-9]+ [0-9]+')
	sw=${m% *} iw=${m#* }
	[ -n "$m" ] && [ "$iw" -eq "$w" ] && [ "$sw" -le "$iw" ] &&
		ok "at $w px the page fits its viewport (scrollWidth $sw <= $iw)" ||
		not_ok "at $w px the page fits its viewport" "scrollWidth innerWidth: ${m:-none}"
done

# contrast (WCAG 2.1): text 4.5:1, chart marks and bars 3:1 on the page
python3 - "$T/report.html" >"$T/contrast" 2>&1 <<'PY'
import re, sys
css = open(sys.argv[1], encoding="utf-8").read()
vars_ = dict(re.findall(r"--([a-z0-9-]+):(#[0-9a-fA-F]{6})", css))
def lum(h):
    c = [int(h[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    c = [x / 12.92 if x <= 0.03928 else ((x + 0.055) / 1.055) ** 2.4 for x in c]
    return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]
def ratio(a, b):
    la, lb = sorted((lum(a), lum(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)
bgs = [vars_["bg"], vars_["panel"]]
bad = []
for name, need in [("fg", 4.5), ("muted", 4.5), ("bad", 4.5), ("good", 4.5)]:
    for bg in bgs:
        if ratio(vars_[name], bg) < need:
            bad.append("%s %s on %s: %.2f < %s" % (name, vars_[name], bg, ratio(vars_[name], bg), need))
marks = [k for k in vars_ if k.startswith("seg-") or k.startswith("region-")]
for name in marks:
    for bg in bgs:
        if ratio(vars_[name], bg) < 3:
            bad.append("%s %s on %s: %.2f < 3" % (name, vars_[name], bg, ratio(vars_[name], bg)))
# the SVG's own text colour
for h in set(re.findall(r'<text [^>]*fill="(#[0-9a-fA-F]{6})"', css)):
    if ratio(h, vars_["bg"]) < 4.5:
        bad.append("chart text %s: %.2f < 4.5" % (h, ratio(h, vars_["bg"])))
if bad or len(marks) < 7:
    print("not ok - colours meet WCAG contrast (%d marks)" % len(marks))
    for b in bad:
        print("    " + b)
else:
    print("ok - colours meet WCAG contrast: text >= 4.5:1, %d chart colours >= 3:1" % len(marks))
PY
cat "$T/contrast"
_fails=$((_fails + $(grep -c '^not ok' "$T/contrast")))
grep -q 'colours meet WCAG' "$T/contrast" || not_ok "the contrast check ran" "$(tail -3 "$T/contrast")"
finish
