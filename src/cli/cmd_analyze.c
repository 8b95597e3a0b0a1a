/*
 * cmd_analyze.c: `probe analyze [--json] [--keylog F] FILE`: the run's
 * analyzer (src/analyze/) on any capture file, streaming: connections are
 * printed as they end, so memory does not grow with the file.
 */
#include "cli/cli.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/analyzer.h"
#include "capture/cap_file.h"
#include "cli/render_run.h"
#include "packet/dec_tls_crypt.h"
#include "util/json.h"

const char cmd_analyze_usage[] =
	"usage: probe analyze [--json] [--keylog FILE] FILE\n\n"
	"Analyze a pcap or pcapng capture: per connection the handshake RTT,\n"
	"retransmissions, resets and ICMP errors; per request/response\n"
	"exchange the request's ACK, the first response byte on the wire, the\n"
	"server's think time and the transfer; DNS queries; and findings with\n"
	"the frame numbers that prove them (tshark -r FILE -Y\n"
	"frame.number==N shows them).\n\n"
	"  --json           one JSON object instead of text\n"
	"  --keylog FILE    TLS key log (SSLKEYLOGFILE format)\n\n"
	"Encrypted TLS records are decrypted with a key log (--keylog, or a\n"
	"pcapng Decryption Secrets Block in FILE) to tell session tickets and\n"
	"HTTP/2 control frames from the response; without one they are\n"
	"classified by inference (the ticket burst after the client's\n"
	"Finished, short HTTP/2 control records) and the figures say quality\n"
	"'inferred'.\n\n"
	"Exit: 0 analyzed, 2 usage, 3 the file could not be read (what was\n"
	"read before a damaged part is still printed).\n";

struct an_print {
	FILE *out;
	bool json;
	struct json j;
	size_t n_conn;
};

static const char *q_name(enum run_quality q)
{
	return q ? run_quality_names[q] : "-";
}

static void frames_text(FILE *out, const struct an_finding *f)
{
	for (size_t i = 0; i < f->n_frames; i++)
		fprintf(out, "%s%" PRIu64, i ? "," : "", f->frames[i]);
}

static void finding_json(struct json *j, const struct an_finding *f)
{
	json_obj_begin(j);
	json_key(j, "code");
	json_str(j, f->code);
	json_key(j, "packets");
	json_arr_begin(j);
	for (size_t i = 0; i < f->n_frames; i++)
		json_int(j, (int64_t)f->frames[i]);
	json_arr_end(j);
	json_key(j, "detail");
	json_str(j, f->detail);
	if (f->exchange >= 0) {
		json_key(j, "exchange");
		json_int(j, f->exchange + 1);
	}
	json_obj_end(j);
}

static void ms_text(FILE *out, const char *name, double v)
{
	if (isnan(v))
		fprintf(out, "  %s -", name);
	else
		fprintf(out, "  %s %.3f ms", name, v);
}

static void conn_text(FILE *out, const struct an_conn *c, size_t n)
{
	const struct conn_rec *r = &c->rec;
	fprintf(out, "connection %zu: %s:%" PRId64 " -> %s:%" PRId64, n,
		r->src_addr, r->src_port, r->dst_addr, r->dst_port);
	if (c->tls)
		fprintf(out, "  tls%s", c->tls_version == 0x0304   ? "1.3"
					: c->tls_version == 0x0303 ? "1.2"
								   : "");
	fprintf(out, "  frames %" PRIu64 "-%" PRIu64 "\n", c->first_frame,
		c->last_frame);
	fputs("  ", out);
	ms_text(out, "rtt", r->rtt_ms);
	fprintf(out, " (%s)", q_name(r->rtt_quality));
	ms_text(out, "tls_server", r->tls_server_ms);
	fprintf(out, "\n    bytes in %" PRId64 " out %" PRId64, r->bytes_in,
		r->bytes_out);
	if (r->syn_retrans != RUN_NULL_INT)
		fprintf(out, "  syn_retrans %" PRId64, r->syn_retrans);
	if (r->retrans != RUN_NULL_INT)
		fprintf(out, "  retrans %" PRId64 "  dup_acks %" PRId64
			     "  zero_window %" PRId64 "  out_of_order %" PRId64
			     "  lost_in %" PRId64,
			r->retrans, r->dup_acks, r->zero_window,
			r->out_of_order, r->lost_in);
	if (r->rst)
		fprintf(out, "  rst %s", run_rst_names[r->rst]);
	if (r->icmp)
		fprintf(out, "  icmp %s", r->icmp);
	fputc('\n', out);
	for (size_t i = 0; i < c->n_ex; i++) {
		const struct exchange_rec *e = &c->ex[i].rec;
		fprintf(out, "  exchange %zu:", i + 1);
		ms_text(out, "request_ack", e->request_ack_ms);
		fprintf(out, " (%s)",
			e->ack_pattern ? run_ack_pattern_names[e->ack_pattern]
				       : "-");
		ms_text(out, "ttfb_wire", e->ttfb_wire_ms);
		ms_text(out, "think", e->think_ms);
		fprintf(out, " (%s)", q_name(e->think_quality));
		ms_text(out, "transfer", e->transfer_ms);
		fputc('\n', out);
	}
	for (size_t i = 0; i < c->n_fi; i++) {
		fprintf(out, "  finding %s [", c->fi[i].code);
		frames_text(out, &c->fi[i]);
		fprintf(out, "] %s\n", c->fi[i].detail);
	}
}

static void on_conn(const struct an_conn *c, void *ctx)
{
	struct an_print *pr = ctx;
	pr->n_conn++;
	if (!pr->json) {
		conn_text(pr->out, c, pr->n_conn);
		return;
	}
	struct json *j = &pr->j;
	json_obj_begin(j);
	render_conn_fields_json(j, &c->rec, false);
	json_key(j, "tls");
	json_bool(j, c->tls);
	json_key(j, "first_frame");
	json_int(j, (int64_t)c->first_frame);
	json_key(j, "last_frame");
	json_int(j, (int64_t)c->last_frame);
	json_key(j, "exchanges");
	json_arr_begin(j);
	for (size_t i = 0; i < c->n_ex; i++)
		render_exchange_json(j, &c->ex[i].rec);
	json_arr_end(j);
	json_key(j, "findings");
	json_arr_begin(j);
	for (size_t i = 0; i < c->n_fi; i++)
		finding_json(j, &c->fi[i]);
	json_arr_end(j);
	json_obj_end(j);
}

static void dns_out(struct an_print *pr, const struct analyzer *a)
{
	size_t n;
	const struct an_dns *q = analyzer_dns(a, &n);
	char cb[64], sb[64];
	for (size_t i = 0; i < n; i++) {
		dec_addr_str(&q[i].srv, sb, sizeof(sb));
		if (!pr->json) {
			fprintf(pr->out,
				"dns %zu: %s type %u -> %s:%u%s  tries %u", i + 1,
				q[i].qname, q[i].qtype, sb, q[i].sport,
				q[i].tcp ? "/tcp" : "", q[i].tries);
			if (q[i].rcode >= 0)
				fprintf(pr->out, "  rcode %d  %.3f ms%s",
					q[i].rcode, q[i].ms,
					q[i].tc ? "  truncated" : "");
			else
				fputs("  no answer", pr->out);
			fprintf(pr->out, "  frames %" PRIu64, q[i].query_frame);
			if (q[i].answer_frame)
				fprintf(pr->out, ",%" PRIu64, q[i].answer_frame);
			fputc('\n', pr->out);
			continue;
		}
		struct json *j = &pr->j;
		json_obj_begin(j);
		json_key(j, "qname");
		json_str(j, q[i].qname);
		json_key(j, "qtype");
		json_int(j, q[i].qtype);
		json_key(j, "client");
		json_str(j, dec_addr_str(&q[i].cli, cb, sizeof(cb)));
		json_key(j, "server");
		json_str(j, sb);
		json_key(j, "server_port");
		json_int(j, q[i].sport);
		json_key(j, "tcp");
		json_bool(j, q[i].tcp);
		json_key(j, "tries");
		json_int(j, q[i].tries);
		json_key(j, "rcode");
		if (q[i].rcode >= 0)
			json_int(j, q[i].rcode);
		else
			json_null(j);
		json_key(j, "truncated");
		json_bool(j, q[i].tc);
		json_key(j, "dns_ms");
		json_num(j, q[i].ms);
		json_key(j, "query_frame");
		json_int(j, (int64_t)q[i].query_frame);
		json_key(j, "answer_frame");
		if (q[i].answer_frame)
			json_int(j, (int64_t)q[i].answer_frame);
		else
			json_null(j);
		json_obj_end(j);
	}
}

static void dns_findings_out(struct an_print *pr, const struct analyzer *a)
{
	enum { MAXF = 256 };
	struct an_finding *f = calloc(MAXF, sizeof(*f));
	size_t n = f ? analyzer_findings(a, f, MAXF) : 0;
	for (size_t i = 0; i < n; i++) {
		if (pr->json) {
			finding_json(&pr->j, &f[i]);
			continue;
		}
		fprintf(pr->out, "finding %s [", f[i].code);
		frames_text(pr->out, &f[i]);
		fprintf(pr->out, "] %s\n", f[i].detail);
	}
	free(f);
}

static void counts_out(struct an_print *pr, const struct analyzer *a)
{
	struct an_counts c;
	analyzer_counts(a, &c);
	if (!pr->json) {
		fprintf(pr->out,
			"%" PRIu64 " frames (%" PRIu64 " tcp, %" PRIu64
			" udp, %" PRIu64 " icmp, %" PRIu64 " other; %" PRIu64
			" truncated, %" PRIu64 " invalid, %" PRIu64
			" cut by a snap length), %zu connections\n",
			c.frames, c.tcp, c.udp, c.icmp, c.other, c.truncated,
			c.invalid, c.cut, pr->n_conn);
		return;
	}
	struct json *j = &pr->j;
	json_key(j, "counts");
	json_obj_begin(j);
	const struct { const char *k; uint64_t v; } kv[] = {
		{ "frames", c.frames }, { "tcp", c.tcp }, { "udp", c.udp },
		{ "icmp", c.icmp }, { "other", c.other },
		{ "truncated", c.truncated }, { "invalid", c.invalid },
		{ "untracked", c.flows_overflow }, { "cut", c.cut },
		{ "exchanges_dropped", c.exchanges_dropped },
	};
	for (size_t i = 0; i < sizeof(kv) / sizeof(kv[0]); i++) {
		json_key(j, kv[i].k);
		json_int(j, (int64_t)kv[i].v);
	}
	json_obj_end(j);
}

/* A key log file, parsed (its text wiped after).  NULL with err. */
static struct dec_tls_keylog *keylog_read(const char *path,
					  struct errbuf *err)
{
	enum { KEYLOG_FILE_MAX = 64 << 20 };
	FILE *k = fopen(path, "r");
	if (!k) {
		errbuf_set(err, PE_IO, "%s: %s", path, strerror(errno));
		return NULL;
	}
	char *buf = malloc(KEYLOG_FILE_MAX);
	size_t n = buf ? fread(buf, 1, KEYLOG_FILE_MAX, k) : 0;
	bool err_read = ferror(k) != 0;
	fclose(k);
	struct dec_tls_keylog *kl = NULL;
	if (!buf)
		errbuf_set(err, PE_NOMEM, "out of memory");
	else if (err_read)
		errbuf_set(err, PE_IO, "%s: read error", path);
	else if (n == KEYLOG_FILE_MAX)
		errbuf_set(err, PE_LIMIT, "%s: larger than 64 MiB", path);
	else
		kl = dec_tls_keylog_parse(buf, n, err);
	if (buf) {
		explicit_bzero(buf, n);
		free(buf);
	}
	return kl;
}

int cmd_analyze(int argc, char **argv, struct app *app)
{
	(void)app;
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "keylog", required_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool json = false;
	const char *keylog = NULL;
	int c;
	optind = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'k':
			keylog = optarg;
			break;
		case 'h':
			fputs(cmd_analyze_usage, stdout);
			return EXIT_OK;
		default:
			fputs(cmd_analyze_usage, stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		fputs(cmd_analyze_usage, stderr);
		return EXIT_USAGE;
	}
	const char *path = argv[optind];
	struct errbuf err;
	struct dec_tls_keylog *kl = NULL;
	if (keylog && !(kl = keylog_read(keylog, &err))) {
		fprintf(stderr, "probe analyze: --keylog %s\n", err.msg);
		return EXIT_USAGE;
	}
	struct cap_file *f = cap_file_open(path, &err);
	if (!f) {
		dec_tls_keylog_free(kl);
		fprintf(stderr, "probe analyze: %s\n", err.msg);
		return EXIT_INTERNAL;
	}
	/* the file's own secrets (pcapng Decryption Secrets Blocks) */
	const char *dsb = cap_file_keylog(f);
	int kr = 0;
	if (dsb && kl)
		kr = dec_tls_keylog_add(kl, dsb, strlen(dsb), &err);
	else if (dsb && !(kl = dec_tls_keylog_parse(dsb, strlen(dsb), &err)))
		kr = PE_NOMEM;
	if (kr < 0)
		fprintf(stderr, "probe analyze: the file's secrets: %s\n",
			err.msg);
	struct an_print pr = { .out = stdout, .json = json };
	struct an_opts o = { .streaming = true, .on_conn = on_conn,
			     .ctx = &pr, .keylog = kl };
	struct analyzer *a = analyzer_new(&o);
	if (!a) {
		dec_tls_keylog_free(kl);
		cap_file_close(f);
		fputs("probe analyze: out of memory\n", stderr);
		return EXIT_INTERNAL;
	}
	if (json) {
		json_init(&pr.j, stdout);
		json_obj_begin(&pr.j);
		json_key(&pr.j, "format_version");
		json_int(&pr.j, 1);
		json_key(&pr.j, "file");
		json_str(&pr.j, path);
		json_key(&pr.j, "linktype");
		json_int(&pr.j, cap_file_linktype(f));
		json_key(&pr.j, "connections");
		json_arr_begin(&pr.j);
	}
	int rc = EXIT_OK;
	int ret;
	uint64_t ts;
	const uint8_t *data;
	uint32_t caplen, len;
	while ((ret = cap_file_next(f, &ts, &data, &caplen, &len, &err)) > 0) {
		if (analyzer_packet(a, cap_file_linktype(f), data, caplen, len,
				    ts) < 0) {
			fputs("probe analyze: out of memory\n", stderr);
			rc = EXIT_INTERNAL;
			break;
		}
	}
	if (ret < 0) {
		fprintf(stderr, "probe analyze: %s\n", err.msg);
		rc = EXIT_INTERNAL;
	}
	if (analyzer_finish(a) < 0)
		rc = EXIT_INTERNAL;
	if (json) {
		json_arr_end(&pr.j);
		json_key(&pr.j, "dns");
		json_arr_begin(&pr.j);
	}
	dns_out(&pr, a);
	if (json) {
		json_arr_end(&pr.j);
		json_key(&pr.j, "findings");
		json_arr_begin(&pr.j);
	}
	dns_findings_out(&pr, a);
	if (json)
		json_arr_end(&pr.j);
	counts_out(&pr, a);
	if (json) {
		json_obj_end(&pr.j);
		fputc('\n', stdout);
	}
	analyzer_free(a);
	dec_tls_keylog_free(kl);
	cap_file_close(f);
	return rc;
}
