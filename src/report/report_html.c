/*
 * report_html.c: `probe report --html`, one self-contained page.
 *
 * Everything is in the file: CSS in one <style>, charts as inline SVG,
 * no script, no font, image or stylesheet from anywhere (the page is
 * mailed, attached to tickets and opened offline).  The only links are
 * for the reader to follow (escalation pcaps, as file:// URLs when the
 * spool is on this host).
 *
 * Accessibility: every chart is role="img" with a <title> and <desc> and
 * a table of the same numbers next to it (a waterfall IS a table whose
 * rows carry their bars: the bars are aria-hidden); the colours are
 * declared once as CSS custom properties, each at least 3:1 against the
 * background (WCAG 1.4.11), text at least 4.5:1 (tests/integration
 * check both); meaning never rests on colour alone (labels, dashes).
 * Layout: fluid to 1280 px and down to a phone's 360 px (tables scroll
 * sideways inside their box, never the page).
 *
 * Machine-readable hooks for tests and scrapers: data-segment, data-ms
 * and data-figure on each waterfall row (data-ms is the stored figure,
 * %.15g as in the JSON), data-region on each run and series, data-verdict
 * on the verdict.
 */
#include "report/report.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "report/waterfall.h"

#define WF_MAX 64
#define N_REGION_COLORS 8

/* Colours: segments, then regions; names as CSS custom properties. */
static const char *const seg_color[WF_COUNT] = {
	[WF_DNS] = "#0b62a4",     [WF_CONNECT] = "#1b7f3b",
	[WF_TLS] = "#8e3fa0",     [WF_SENT] = "#0e7c86",
	[WF_NETWORK] = "#b35900", [WF_THINK] = "#c0392b",
	[WF_TRANSFER] = "#5a5a9e",
};
static const char *const region_color[N_REGION_COLORS] = {
	"#0b62a4", "#b35900", "#1b7f3b", "#8e3fa0",
	"#c0392b", "#0e7c86", "#6b6b00", "#5a5a9e",
};

static const char css[] =
	":root{--fg:#1a1a1a;--muted:#4d4d4d;--bg:#ffffff;--line:#8a8a8a;"
	"--bad:#b00020;--good:#1b6e34;--panel:#f4f5f7}\n"
	"*{box-sizing:border-box}\n"
	"body{margin:0 auto;max-width:1280px;padding:1rem;color:var(--fg);"
	"background:var(--bg);font:15px/1.45 system-ui,-apple-system,"
	"'Segoe UI',Roboto,sans-serif}\n"
	"h1{font-size:1.5rem;margin:.2rem 0}h2{font-size:1.3rem;"
	"margin:2rem 0 .4rem;border-bottom:2px solid var(--line)}\n"
	"h3{font-size:1.1rem;margin:1.2rem 0 .3rem}"
	"h4{font-size:1rem;margin:.9rem 0 .2rem}\n"
	".meta,.note{color:var(--muted)}\n"
	".scroll{overflow-x:auto;max-width:100%}\n"
	"table{border-collapse:collapse;margin:.3rem 0}\n"
	"caption{text-align:left;padding:.1rem .5rem}\n"
	"th,td{padding:.15rem .5rem;text-align:left;vertical-align:middle}\n"
	"td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;"
	"white-space:nowrap}\n"
	"table.grid th,table.grid td{border-bottom:1px solid #d0d0d0;"
	"white-space:nowrap}\n"
	"table.wf{width:100%;max-width:900px}\n"
	"table.wf th{font-weight:normal;white-space:nowrap;width:9rem}\n"
	"table.wf td.bar{width:100%;min-width:8rem}\n"
	"table.wf svg{display:block;width:100%;height:14px}\n"
	".run{background:var(--panel);border-radius:6px;padding:.4rem .8rem;"
	"margin:.6rem 0}\n"
	".ok{color:var(--good);font-weight:600}"
	".failed{color:var(--bad);font-weight:600}\n"
	".verdict{font-size:1.05rem;padding:.4rem .7rem;border-left:5px "
	"solid var(--line);background:var(--panel)}\n"
	".verdict b{font-family:ui-monospace,monospace}\n"
	"code,.code{font-family:ui-monospace,'DejaVu Sans Mono',monospace;"
	"font-size:.92em;overflow-wrap:anywhere}\n"
	".charts{display:flex;flex-wrap:wrap;gap:1rem}\n"
	".chart{flex:1 1 420px;min-width:0;margin:0}\n"
	".chart svg{width:100%;height:auto;display:block}\n"
	".legend{list-style:none;padding:0;margin:.2rem 0;display:flex;"
	"flex-wrap:wrap;gap:.3rem 1rem}\n"
	".sw{display:inline-block;width:1.6rem;height:.25rem;"
	"vertical-align:middle;margin-right:.3rem}\n"
	"ul.findings li{margin:.2rem 0}\n"
	"@media (max-width:600px){body{padding:.5rem;font-size:14px}"
	"table.wf th{width:6.5rem}.chart{flex-basis:100%}}\n";

struct hw {
	FILE *out;
	const struct report *r;
	char spool_abs[PATH_MAX];
	bool have_spool;
};

/* Text for HTML content and attribute values alike. */
static void esc(FILE *out, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '&': fputs("&amp;", out); break;
		case '<': fputs("&lt;", out); break;
		case '>': fputs("&gt;", out); break;
		case '"': fputs("&quot;", out); break;
		case '\'': fputs("&#39;", out); break;
		default: fputc(*s, out);
		}
	}
}

/* A name as an id fragment: [A-Za-z0-9_-], the rest as '-'. */
static void ident(FILE *out, const char *s)
{
	for (; s && *s; s++) {
		char c = *s;
		bool okc = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			   (c >= '0' && c <= '9') || c == '_' || c == '-';
		fputc(okc ? c : '-', out);
	}
}

/* A path as a file:// URL's path: RFC 3986 unreserved and '/' kept, the
 * rest %XX (then nothing in it needs HTML escaping). */
static void url_path(FILE *out, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; p && *p; p++) {
		unsigned char c = *p;
		bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			    (c >= '0' && c <= '9') || c == '/' || c == '-' ||
			    c == '.' || c == '_' || c == '~';
		if (keep)
			fputc(c, out);
		else
			fprintf(out, "%%%02X", c);
	}
}

static void num_attr(FILE *out, const char *name, double v)
{
	if (isnan(v))
		fprintf(out, " %s=\"\"", name);
	else
		fprintf(out, " %s=\"%.15g\"", name, v);
}

static const char *ms_text(double ms, char *buf, size_t len)
{
	return waterfall_ms_text(ms, buf, len);
}

/* ---- waterfalls ---------------------------------------------------------- */

static void waterfall_html(struct hw *h, const struct waterfall *w)
{
	FILE *o = h->out;
	char b1[32], b2[32];
	const struct exchange_rec *x = w->ex;
	double total = w->total_ms > 0 ? w->total_ms : w->sum_ms;
	fprintf(o, "<div class=\"scroll\"><table class=\"wf\"");
	num_attr(o, "data-total-ms", w->total_ms);
	num_attr(o, "data-sum-ms", w->sum_ms);
	fprintf(o, ">\n<caption class=\"meta\">");
	if (x) {
		esc(o, x->method);
		fputs(" <span class=\"code\">", o);
		esc(o, x->url);
		fputs("</span>, ", o);
	}
	fprintf(o, "total %s; segments cover %s%s</caption>\n",
		ms_text(w->total_ms, b1, sizeof(b1)),
		ms_text(w->sum_ms, b2, sizeof(b2)),
		w->n_unknown ? " (? unknown: no capture, or not measurable)"
			     : "");
	for (int k = 0; k < WF_COUNT; k++) {
		if (!w->applies[k])
			continue;
		fprintf(o, "<tr class=\"seg\" data-segment=\"%s\" "
			   "data-figure=\"%s\" data-clock=\"%s\"",
			wf_seg_info[k].key, wf_seg_info[k].field,
			wf_seg_info[k].clock);
		num_attr(o, "data-ms", w->ms[k]);
		num_attr(o, "data-start-ms", w->start_ms[k]);
		fprintf(o, "><th scope=\"row\">%s</th><td class=\"bar\">",
			wf_seg_info[k].label);
		if (!isnan(w->ms[k]) && total > 0) {
			double a = fmax(0, w->start_ms[k] / total * 1000);
			double len = fmax(2, w->ms[k] / total * 1000);
			if (a + len > 1000)
				a = fmax(0, 1000 - len);
			fprintf(o, "<svg viewBox=\"0 0 1000 14\" "
				   "preserveAspectRatio=\"none\" "
				   "aria-hidden=\"true\" focusable=\"false\">"
				   "<rect x=\"0\" y=\"6.5\" width=\"1000\" "
				   "height=\"1\" fill=\"#d0d0d0\"/>"
				   "<rect x=\"%.2f\" y=\"1\" width=\"%.2f\" "
				   "height=\"12\" class=\"f-%s\"/>"
				   "</svg>",
				a, len, wf_seg_info[k].key);
		}
		fprintf(o, "</td><td class=\"num\">%s</td></tr>\n",
			ms_text(w->ms[k], b1, sizeof(b1)));
	}
	fputs("</table></div>\n", o);
	if (x && !isnan(x->request_ack_ms))
		fprintf(o, "<p class=\"note\">The request's ACK came %s after "
			   "its last byte: <b>%s</b>%s.</p>\n",
			ms_text(x->request_ack_ms, b1, sizeof(b1)),
			x->ack_pattern ? run_ack_pattern_names[x->ack_pattern]
				       : "unknown",
			x->server_delayed_ack == 1
				? " (the server delayed its ACK)"
				: "");
	if (!isnan(w->ms[WF_NETWORK]) && !isnan(w->ms[WF_THINK]))
		fprintf(o, "<p class=\"split\">To the first byte: <b>%s "
			   "network</b>, <b>%s server</b>.</p>\n",
			ms_text(w->ms[WF_NETWORK], b1, sizeof(b1)),
			ms_text(w->ms[WF_THINK], b2, sizeof(b2)));
}

static void finding_html(FILE *o, const struct step_rec *s,
			 const struct finding_rec *f)
{
	fputs("<li data-code=\"", o);
	esc(o, f->code);
	fputs("\" data-frames=\"", o);
	esc(o, f->packets ? f->packets : "[]");
	fputs("\"><b>", o);
	esc(o, f->code);
	fputs("</b>", o);
	if (s)
		fputs(" in step ", o), esc(o, s->name);
	if (f->packets && strcmp(f->packets, "[]") != 0)
		fputs(", frames ", o), esc(o, f->packets);
	if (f->detail)
		fputs(": ", o), esc(o, f->detail);
	fputs("</li>\n", o);
}

static void pcap_html(struct hw *h, const struct run_rec *run)
{
	FILE *o = h->out;
	const struct pcap_rec *p = run->pcap;
	if (!p)
		return;
	if (p->pruned) {
		fputs("<p class=\"note\">Escalation pcap: pruned by retention.",
		      o);
		fputs("</p>\n", o);
		return;
	}
	char full[PATH_MAX * 2];
	bool local = h->have_spool && p->path && p->path[0] != '/' &&
		     !strstr(p->path, "..") &&
		     (size_t)snprintf(full, sizeof(full), "%s/%s",
				      h->spool_abs, p->path) < sizeof(full) &&
		     access(full, R_OK) == 0;
	fputs("<p class=\"pcap\">Escalation pcap", o);
	if (p->reason)
		fputs(" (", o), esc(o, p->reason), fputs(")", o);
	fputs(": ", o);
	if (local) {
		fputs("<a href=\"file://", o);
		url_path(o, full);
		fputs("\">", o);
		esc(o, p->path);
		fputs("</a>", o);
	} else {
		/* a central store: the file stays with the regional probe */
		fputs("<span class=\"code\">probe pcap fetch --regions "
		      "REGIONS.conf ", o);
		esc(o, run->region);
		fputs(" ", o);
		esc(o, run->run_id);
		fputs("</span>", o);
	}
	fprintf(o, ", %lld bytes, sha256 <span class=\"code\">",
		(long long)p->bytes);
	esc(o, p->sha256);
	fputs("</span>", o);
	if (p->expires_at)
		fputs(", kept until ", o), esc(o, p->expires_at);
	fputs(".</p>\n", o);
}

static void run_html(struct hw *h, const struct run_rec *run)
{
	FILE *o = h->out;
	char b[32];
	fputs("<article class=\"run\" data-region=\"", o);
	esc(o, run->region);
	fputs("\" data-run-id=\"", o);
	esc(o, run->run_id);
	fputs("\">\n<h3>Region ", o);
	esc(o, run->region);
	fprintf(o, ": <span class=\"%s\">%s</span>%s</h3>\n",
		run->ok ? "ok" : "failed", run->ok ? "ok" : "failed",
		run->breach ? ", <span class=\"failed\">threshold "
			      "breached</span>"
			    : "");
	fputs("<p class=\"meta\">Latest run <span class=\"code\">", o);
	esc(o, run->run_id);
	fputs("</span>, started ", o);
	esc(o, run->started_at);
	fputs(" UTC, probe ", o);
	esc(o, run->probe_id);
	fputs(".</p>\n", o);
	for (size_t i = 0; i < run->n_thresholds; i++)
		if (run->thresholds[i].breached) {
			fputs("<p class=\"failed\">Breached: <span "
			      "class=\"code\">", o);
			esc(o, run->thresholds[i].threshold);
			fputs("</span></p>\n", o);
		}
	for (size_t i = 0; i < run->n_steps; i++) {
		const struct step_rec *s = &run->steps[i];
		fprintf(o, "<section class=\"step\" data-step=\"");
		esc(o, s->name);
		fprintf(o, "\">\n<h4>Step %lld ", (long long)s->idx);
		esc(o, s->name);
		fprintf(o, " <span class=\"meta\">%s ",
			run_step_kind_names[s->kind]);
		esc(o, s->target);
		fputs("</span>", o);
		if (s->status != RUN_NULL_INT)
			fprintf(o, " %lld", (long long)s->status);
		if (s->skipped)
			fputs(" <span class=\"meta\">skipped</span>", o);
		else if (!s->ok) {
			fputs(" <span class=\"failed\">failed: ", o);
			esc(o, s->error);
			fputs("</span>", o);
		}
		fprintf(o, " <span class=\"meta\">total %s</span></h4>\n",
			ms_text(s->total_ms, b, sizeof(b)));
		if (s->error_detail && !s->ok) {
			fputs("<p class=\"note\">", o);
			esc(o, s->error_detail);
			fputs("</p>\n", o);
		}
		struct waterfall w[WF_MAX];
		size_t n = waterfall_of_step(s, w, WF_MAX);
		for (size_t k = 0; k < n && k < WF_MAX; k++)
			waterfall_html(h, &w[k]);
		fputs("</section>\n", o);
	}
	size_t nf = run->n_findings;
	for (size_t i = 0; i < run->n_steps; i++)
		nf += run->steps[i].n_findings;
	if (nf) {
		fputs("<h4>Findings</h4>\n<ul class=\"findings\">\n", o);
		for (size_t i = 0; i < run->n_steps; i++)
			for (size_t k = 0; k < run->steps[i].n_findings; k++)
				finding_html(o, &run->steps[i],
					     &run->steps[i].findings[k]);
		for (size_t k = 0; k < run->n_findings; k++)
			finding_html(o, NULL, &run->findings[k]);
		fputs("</ul>\n", o);
	}
	pcap_html(h, run);
	fputs("</article>\n", o);
}

/* ---- series -------------------------------------------------------------- */

#define CH_W 640.0
#define CH_H 260.0
#define CH_L 72.0   /* left margin: the y labels */
#define CH_B 34.0   /* bottom margin: the x labels */
#define CH_T 10.0

static double nice_max(double v)
{
	if (!(v > 0))
		return 1;
	double p = pow(10, floor(log10(v)));
	for (double m = 1; m <= 10; m *= 2)
		if (m * p >= v)
			return m * p;
	return 10 * p;
}

static void polyline(FILE *o, const struct report_series *se,
		     enum report_metric m, bool p95, double ymax,
		     const char *color)
{
	double dx = (CH_W - CH_L - 10) / (REPORT_BUCKETS - 1);
	bool open = false;
	for (size_t i = 0; i < REPORT_BUCKETS; i++) {
		double v = p95 ? se->pts[m][i].p95 : se->pts[m][i].p50;
		if (isnan(v))
			continue; /* an empty slice: the line goes across */
		double x = CH_L + dx * (double)i;
		double y = CH_T + (CH_H - CH_T - CH_B) * (1 - v / ymax);
		if (!open)
			fprintf(o, "<polyline fill=\"none\" stroke=\"%s\" "
				   "stroke-width=\"%s\"%s points=\"",
				color, p95 ? "1.5" : "2.5",
				p95 ? " stroke-dasharray=\"5 4\"" : "");
		fprintf(o, "%.1f,%.1f ", x, y);
		open = true;
	}
	if (open)
		fputs("\"/>", o);
	/* every point marked too: a slice between two empty ones is a
	 * line of one point, which draws nothing */
	for (size_t i = 0; i < REPORT_BUCKETS; i++) {
		double v = p95 ? se->pts[m][i].p95 : se->pts[m][i].p50;
		if (isnan(v))
			continue;
		fprintf(o, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%s\" "
			   "fill=\"%s\" stroke=\"%s\"/>",
			CH_L + dx * (double)i,
			CH_T + (CH_H - CH_T - CH_B) * (1 - v / ymax),
			p95 ? "2.5" : "3", p95 ? "#ffffff" : color, color);
	}
}

static void chart_html(struct hw *h, const struct report_scenario *sc,
		       enum report_metric m, const char *id)
{
	FILE *o = h->out;
	const struct report *r = h->r;
	const char *what = m == REPORT_THINK ? "server think time (think_ms)"
					     : "round-trip time (rtt_ms)";
	double ymax = 0;
	size_t n = 0;
	for (size_t k = 0; k < sc->n_series; k++)
		for (size_t i = 0; i < REPORT_BUCKETS; i++) {
			const struct report_point *p = &sc->series[k].pts[m][i];
			if (!isnan(p->p95))
				ymax = fmax(ymax, p->p95);
			n += p->n;
		}
	ymax = nice_max(ymax);
	fprintf(o, "<figure class=\"chart\" data-metric=\"%s\">\n",
		report_metric_names[m]);
	fprintf(o, "<figcaption><b>%s</b>, p50 (solid) and p95 (dashed) "
		   "per region</figcaption>\n", what);
	fprintf(o, "<svg viewBox=\"0 0 %.0f %.0f\" role=\"img\" "
		   "aria-labelledby=\"%s-t %s-d\">\n<title id=\"%s-t\">%s "
		   "of ",
		CH_W, CH_H, id, id, id, what);
	esc(o, sc->name);
	fprintf(o, "</title>\n<desc id=\"%s-d\">%zu samples from %s to %s "
		   "UTC in %d slices of %lld minutes; the numbers are in the "
		   "table below.</desc>\n",
		id, n, r->since, r->until, REPORT_BUCKETS,
		(long long)(r->bucket_s / 60));
	for (int g = 0; g <= 4; g++) {
		double v = ymax * g / 4;
		double y = CH_T + (CH_H - CH_T - CH_B) * (1 - (double)g / 4);
		fprintf(o, "<line x1=\"%.0f\" x2=\"%.0f\" y1=\"%.1f\" "
			   "y2=\"%.1f\" stroke=\"#d0d0d0\"/>"
			   "<text x=\"%.0f\" y=\"%.1f\" font-size=\"14\" "
			   "text-anchor=\"end\" fill=\"#4d4d4d\">%g ms</text>\n",
			CH_L, CH_W - 10, y, y, CH_L - 4, y + 4, v);
	}
	char t0[40], t1[40];
	snprintf(t0, sizeof(t0), "%.16s", r->since);
	snprintf(t1, sizeof(t1), "%.16s", r->until);
	fprintf(o, "<text x=\"%.0f\" y=\"%.0f\" font-size=\"14\" "
		   "fill=\"#4d4d4d\">%s</text><text x=\"%.0f\" y=\"%.0f\" "
		   "font-size=\"14\" text-anchor=\"end\" fill=\"#4d4d4d\">%s"
		   "</text>\n",
		CH_L, CH_H - 8, t0, CH_W - 10, CH_H - 8, t1);
	for (size_t k = 0; k < sc->n_series; k++) {
		const char *c = region_color[k % N_REGION_COLORS];
		fputs("<g data-region=\"", o);
		esc(o, sc->series[k].region);
		fputs("\">", o);
		polyline(o, &sc->series[k], m, false, ymax, c);
		polyline(o, &sc->series[k], m, true, ymax, c);
		fputs("</g>\n", o);
	}
	fputs("</svg>\n<ul class=\"legend\">", o);
	for (size_t k = 0; k < sc->n_series; k++) {
		fprintf(o, "<li><span class=\"sw\" style=\"background:%s\">"
			   "</span>",
			region_color[k % N_REGION_COLORS]);
		esc(o, sc->series[k].region);
		fputs("</li>", o);
	}
	fputs("</ul>\n", o);
	/* the text alternative: the same numbers */
	fprintf(o, "<details><summary>%s as a table</summary>"
		   "<div class=\"scroll\"><table class=\"grid\"><tr>"
		   "<th scope=\"col\">from (UTC)</th>",
		m == REPORT_THINK ? "think_ms" : "rtt_ms");
	for (size_t k = 0; k < sc->n_series; k++) {
		fputs("<th scope=\"col\" class=\"num\">", o);
		esc(o, sc->series[k].region);
		fputs(" p50 / p95 (n)</th>", o);
	}
	fputs("</tr>\n", o);
	for (size_t i = 0; i < REPORT_BUCKETS; i++) {
		char from[40];
		report_bucket_start(r, i, from, sizeof(from));
		fprintf(o, "<tr><td>%.16s</td>", from);
		for (size_t k = 0; k < sc->n_series; k++) {
			const struct report_point *p = &sc->series[k].pts[m][i];
			if (p->n)
				fprintf(o, "<td class=\"num\">%.2f / %.2f "
					   "(%zu)</td>",
					p->p50, p->p95, p->n);
			else
				fputs("<td class=\"num\">-</td>", o);
		}
		fputs("</tr>\n", o);
	}
	fputs("</table></div></details>\n</figure>\n", o);
}

/* ---- the verdict and the regions side by side ---------------------------- */

static const char *verdict_words(enum cmp_verdict v)
{
	switch (v) {
	case CMP_NONE:
		return "nothing is off its baseline";
	case CMP_NETWORK_LOCAL:
		return "the network of these regions: RTT or retransmissions "
		       "off their baseline there, think time normal";
	case CMP_APPLICATION_WIDE:
		return "the application: think time up in every region";
	case CMP_SERVER_LOCAL:
		return "the front end these regions are sent to: think time "
		       "up only there, and they reach other server addresses";
	case CMP_MIXED:
		return "mixed: the figures below tell";
	}
	return "";
}

static void compare_html(struct hw *h, const struct cmp_scenario *c)
{
	FILE *o = h->out;
	fprintf(o, "<p class=\"verdict\" data-verdict=\"%s\" "
		   "data-regions=\"",
		cmp_verdict_name(c->verdict));
	esc(o, c->regions_text ? c->regions_text : "");
	fprintf(o, "\">Verdict: <b>%s", cmp_verdict_name(c->verdict));
	if (c->regions_text && *c->regions_text)
		fputs(" ", o), esc(o, c->regions_text);
	fprintf(o, "</b>: %s.</p>\n", verdict_words(c->verdict));
	fputs("<div class=\"scroll\"><table class=\"grid compare\"><tr>"
	      "<th scope=\"col\">region</th><th scope=\"col\">step</th>"
	      "<th scope=\"col\">figure</th>"
	      "<th scope=\"col\" class=\"num\">recent p50 / p95 (n)</th>"
	      "<th scope=\"col\" class=\"num\">baseline p50 / p95 (n)</th>"
	      "<th scope=\"col\">off baseline</th></tr>\n", o);
	for (size_t i = 0; i < c->n_figs; i++) {
		const struct cmp_fig *f = &c->figs[i];
		fputs("<tr data-region=\"", o);
		esc(o, f->region);
		fputs("\"><td>", o);
		esc(o, f->region);
		fputs("</td><td>", o);
		esc(o, f->step);
		fprintf(o, "</td><td>%s</td><td class=\"num\">%.2f / %.2f "
			   "(%zu)</td>",
			f->metric, f->recent_p50, f->recent_p95, f->recent_n);
		if (f->base_n)
			fprintf(o, "<td class=\"num\">%.2f / %.2f (%zu)</td>",
				f->base_p50, f->base_p95, f->base_n);
		else
			fputs("<td class=\"num\">not ready</td>", o);
		fprintf(o, "<td>%s</td></tr>\n",
			f->up ? "<b class=\"failed\">up</b>" : "no");
	}
	fputs("</table></div>\n", o);
}

static void scenario_html(struct hw *h, const struct report_scenario *sc,
			  size_t idx)
{
	FILE *o = h->out;
	fputs("<section class=\"scenario\" id=\"s-", o);
	ident(o, sc->name);
	fputs("\" data-scenario=\"", o);
	esc(o, sc->name);
	fputs("\">\n<h2>Scenario ", o);
	esc(o, sc->name);
	fputs("</h2>\n", o);
	if (sc->cmp)
		compare_html(h, sc->cmp);
	else
		fputs("<p class=\"verdict\" data-verdict=\"\">No verdict: no "
		      "region has recent runs against a ready baseline.</p>\n",
		      o);
	fputs("<h3>Think time and RTT per region</h3>\n<div "
	      "class=\"charts\">\n", o);
	char id[32];
	snprintf(id, sizeof(id), "c%zu-think", idx);
	chart_html(h, sc, REPORT_THINK, id);
	snprintf(id, sizeof(id), "c%zu-rtt", idx);
	chart_html(h, sc, REPORT_RTT, id);
	fputs("</div>\n<h3>Latest run of each region</h3>\n", o);
	for (size_t k = 0; k < sc->n_runs; k++)
		run_html(h, &sc->runs[k]);
	fputs("</section>\n", o);
}

int report_html(FILE *o, const struct report *r)
{
	struct hw h = { .out = o, .r = r };
	if (r->o.spool && realpath(r->o.spool, h.spool_abs))
		h.have_spool = true;
	fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta "
	      "charset=\"utf-8\">\n<meta name=\"viewport\" "
	      "content=\"width=device-width, initial-scale=1\">\n<meta "
	      "name=\"color-scheme\" content=\"light\">\n<title>probe "
	      "report</title>\n<style>\n",
	      o);
	fputs(css, o);
	fputs(":root{", o);
	for (int k = 0; k < WF_COUNT; k++)
		fprintf(o, "--seg-%s:%s;", wf_seg_info[k].key, seg_color[k]);
	for (int k = 0; k < N_REGION_COLORS; k++)
		fprintf(o, "--region-%d:%s;", k + 1, region_color[k]);
	fputs("}\n", o);
	for (int k = 0; k < WF_COUNT; k++)
		fprintf(o, ".f-%s{fill:var(--seg-%s)}\n", wf_seg_info[k].key,
			wf_seg_info[k].key);
	fputs("</style>\n</head>\n<body>\n<header>\n<h1>probe report</h1>"
	      "\n<p class=\"meta\">Store <span class=\"code\">", o);
	esc(o, r->o.db_path);
	fprintf(o, "</span>, made %s UTC; series from %s to %s UTC.</p>\n",
		r->o.now, r->since, r->until);
	fputs("<p class=\"meta\">Each step is drawn as segments laid end to "
	      "end, each one stored figure: DNS, connect and TLS from the "
	      "client library; request sent (TLS done to the request's last "
	      "byte), network wait (one round trip), server think and "
	      "transfer from the run's own packets.</p>\n", o);
	if (r->n > 1) {
		fputs("<nav><ul>", o);
		for (size_t i = 0; i < r->n; i++) {
			fputs("<li><a href=\"#s-", o);
			ident(o, r->v[i].name);
			fputs("\">", o);
			esc(o, r->v[i].name);
			fputs("</a></li>", o);
		}
		fputs("</ul></nav>\n", o);
	}
	fputs("</header>\n<main>\n", o);
	if (r->n == 0)
		fputs("<p>No runs in the store match.</p>\n", o);
	for (size_t i = 0; i < r->n; i++)
		scenario_html(&h, &r->v[i], i);
	if (r->n_runs_left_out)
		fprintf(o, "<p class=\"note\">%zu more scenario/region pairs "
			   "not shown.</p>\n",
			r->n_runs_left_out);
	fputs("</main>\n</body>\n</html>\n", o);
	return ferror(o) ? PE_IO : 0;
}
