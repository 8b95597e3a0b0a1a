#!/usr/bin/env python3
"""report_check.py: `probe report`'s waterfalls against the store.

    report_check.py DB [--json F] [--text F] [--html F] [--sum-tol MS]

For every waterfall `probe report --json` drew (F: its output), each
segment must be the stored figure it names (exchanges.* for an exchange,
steps.* for a step without one), the segments present must be exactly the
ones that apply, and, where none is unknown, they must add up to the
exchange's (step's) total_ms within --sum-tol ms.  --text: the terminal
output (--color never) must print each segment's figure as the store has
it, in the same order.  --html: each waterfall row's data-ms must be the
stored figure and its printed cell the same text.

Prints one TAP line per check ("ok - ..." / "not ok - ..."), the largest
|sum - total| seen on an "ok" line, and exits 0 (the caller counts the
"not ok" lines).
"""
import html.parser
import json
import math
import re
import sqlite3
import sys

SEGS = [  # key, figure, clock, label (waterfall.c)
    ("dns", "dns_ms", "library", "DNS"),
    ("connect", "connect_ms", "library", "connect"),
    ("tls", "tls_ms", "library", "TLS"),
    ("request_sent", "request_sent_ms", "wire", "request sent"),
    ("network", "rtt_ms", "wire", "network wait"),
    ("think", "think_ms", "wire", "server think"),
    ("transfer", "transfer_ms", "wire", "transfer"),
]
fails = 0


def ok(cond, what, *detail):
    global fails
    if cond:
        print("ok - " + what)
    else:
        fails += 1
        print("not ok - " + what)
        for d in detail:
            print("    " + str(d))


def ms_text(v):
    """waterfall_ms_text()"""
    if v is None:
        return "?"
    if abs(v) < 10:
        return "%.2f ms" % v
    if abs(v) < 1000:
        return "%.1f ms" % v
    return "%.0f ms" % v


def same(a, b):
    if a is None or b is None:
        return a is None and b is None
    return a == b or abs(a - b) <= 1e-9 * max(1.0, abs(a))


def stored(db, run_id):
    """[(step idx, step kind, exchange idx or None, {figure: value})] in
    the order the report draws them."""
    out = []
    steps = db.execute(
        "SELECT s.id, s.idx, s.kind, s.skipped, s.dns_ms, s.connect_ms,"
        " s.tls_ms, s.total_ms FROM steps s JOIN runs r ON r.seq = s.run_seq"
        " WHERE r.run_id = ? ORDER BY s.idx", (run_id,)).fetchall()
    for sid, idx, kind, skipped, dns, con, tls, total in steps:
        if skipped:
            continue
        xs = db.execute(
            "SELECT idx, dns_ms, connect_ms, tls_ms, request_sent_ms,"
            " rtt_ms, think_ms, transfer_ms, total_ms FROM exchanges"
            " WHERE step_id = ? ORDER BY idx", (sid,)).fetchall()
        if not xs:
            out.append((idx, kind, None, {"dns_ms": dns, "connect_ms": con,
                                           "tls_ms": tls, "total_ms": total}))
        for x in xs:
            out.append((idx, kind, x[0], dict(zip(
                ["dns_ms", "connect_ms", "tls_ms", "request_sent_ms",
                 "rtt_ms", "think_ms", "transfer_ms", "total_ms"], x[1:]))))
    return out


def check_json(db, path, tol):
    runs = [json.loads(l) for l in open(path) if l.strip()]
    ok(len(runs) > 0, "report --json has runs (%d)" % len(runs))
    worst, n_sum, drawn = 0.0, 0, []
    for run in runs:
        want = stored(db, run["run_id"])
        got = []
        for st in run["steps"]:
            for w in st["waterfalls"]:
                got.append((st["idx"], st["kind"], w))
        ok(len(got) == len(want),
           "run %s: %d waterfalls, the store has %d steps/exchanges to draw"
           % (run["run_id"], len(got), len(want)))
        for (gidx, gkind, w), (sidx, skind, xidx, fig) in zip(got, want):
            where = "run %s step %d%s" % (run["run_id"], sidx,
                                          "" if xidx is None else
                                          " exchange %d" % xidx)
            bad = []
            if gidx != sidx or w["exchange"] != xidx:
                bad.append("drawn as step %s exchange %s" %
                           (gidx, w["exchange"]))
            segs = {s["segment"]: s for s in w["segments"]}
            for key, figure, clock, _ in SEGS:
                applies = (fig.get(figure) is not None) or (
                    xidx is not None and clock == "wire")
                if applies != (key in segs):
                    bad.append("%s %s" % (key, "missing" if applies
                                          else "drawn, does not apply"))
                    continue
                if not applies:
                    continue
                s = segs[key]
                if s["figure"] != figure or not same(s["ms"],
                                                     fig.get(figure)):
                    bad.append("%s: drew %s=%r, stored %r" % (
                        key, s["figure"], s["ms"], fig.get(figure)))
            ok(not bad, "%s: each segment is the stored figure it draws"
               % where, *bad)
            ok(same(w["total_ms"], fig["total_ms"]),
               "%s: total_ms is the stored one" % where)
            known = [s["ms"] for s in w["segments"]]
            if None not in known and fig["total_ms"] is not None:
                d = abs(sum(known) - fig["total_ms"])
                worst = max(worst, d)
                n_sum += 1
                ok(d <= tol, "%s (%s): segments add up to total_ms %.3f "
                   "within %.1f ms (off by %.3f)" % (where, gkind,
                                                     fig["total_ms"], tol, d))
            drawn.append((where, w, fig))
    ok(n_sum > 0, "sums checked on %d waterfalls, the largest |sum - total| "
       "%.3f ms" % (n_sum, worst))
    return drawn


def check_text(path, drawn):
    rows = []
    cur = None
    labels = {label: (key, figure) for key, figure, _, label in SEGS}
    pat = re.compile(r"^      (%s) +.*? +(\?|-?[0-9.]+ ms)$" %
                     "|".join(re.escape(l) for l in labels))
    for line in open(path, encoding="utf-8"):
        line = line.rstrip("\n")
        if "\033" in line:
            ok(False, "--color never: no escape sequences", line)
            return
        m = pat.match(line)
        if m:
            if cur is None or labels[m.group(1)][0] in cur:
                cur = {}
                rows.append(cur)
            cur[labels[m.group(1)][0]] = m.group(2)
        else:
            cur = None if not line.startswith("      ") else cur
    ok(len(rows) == len(drawn), "terminal: %d waterfalls drawn, JSON has %d"
       % (len(rows), len(drawn)))
    bad = []
    for row, (where, w, fig) in zip(rows, drawn):
        for s in w["segments"]:
            want = ms_text(fig.get(s["figure"]))
            if row.get(s["segment"]) != want:
                bad.append("%s %s: printed %r, stored %s" % (
                    where, s["segment"], row.get(s["segment"]), want))
    ok(not bad and rows, "terminal: every segment's figure is the stored "
       "one (%d waterfalls)" % len(rows), *bad[:20])


class Rows(html.parser.HTMLParser):
    """Each waterfall table's rows: (run id, [(segment, data-ms, text)])"""

    def __init__(self):
        super().__init__()
        self.run = None
        self.tables = []
        self.row = None
        self.cell = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "article" and "data-run-id" in a:
            self.run = a["data-run-id"]
        elif tag == "table" and "wf" in a.get("class", "").split():
            self.tables.append((self.run, []))
        elif tag == "tr" and "data-segment" in a:
            self.row = [a["data-segment"], a.get("data-ms"), ""]
            self.tables[-1][1].append(self.row)
        elif tag == "td" and self.row is not None:
            self.cell = "num" in a.get("class", "")

    def handle_endtag(self, tag):
        if tag == "tr":
            self.row = None
        if tag == "td":
            self.cell = None

    def handle_data(self, data):
        if self.row is not None and self.cell:
            self.row[2] += data


def check_html(path, drawn):
    p = Rows()
    p.feed(open(path, encoding="utf-8").read())
    by_run = {}
    for run, rows in p.tables:
        by_run.setdefault(run, []).append(rows)
    bad, n = [], 0
    for where, w, fig in drawn:
        run = where.split()[1]
        tables = by_run.get(run, [])
        if not tables:
            bad.append("%s: no waterfall in the page" % where)
            continue
        rows = tables.pop(0)
        segs = [s["segment"] for s in w["segments"]]
        if [r[0] for r in rows] != segs:
            bad.append("%s: rows %s, want %s" % (where, [r[0] for r in rows],
                                                 segs))
            continue
        for seg, dms, text in rows:
            figure = dict((k, f) for k, f, _, _ in SEGS)[seg]
            v = fig.get(figure)
            got = None if dms in (None, "") else float(dms)
            n += 1
            if not same(got, v) or text.strip() != ms_text(v):
                bad.append("%s %s: data-ms %r text %r, stored %r" %
                           (where, seg, dms, text, v))
    ok(not bad and n, "HTML: every waterfall row's data-ms and text are the "
       "stored figure (%d rows)" % n, *bad[:20])


def main(argv):
    args = {"--sum-tol": "2"}
    db = argv[1]
    i = 2
    while i < len(argv):
        args[argv[i]] = argv[i + 1]
        i += 2
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
    drawn = check_json(con, args["--json"], float(args["--sum-tol"]))
    if "--text" in args:
        check_text(args["--text"], drawn)
    if "--html" in args:
        check_html(args["--html"], drawn)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
