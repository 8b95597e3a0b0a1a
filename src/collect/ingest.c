/*
 * ingest.c: a run's JSON back into a struct run_rec (ingest.h).
 *
 * json-c parses (strict mode, UTF-8 validated, depth capped): a small,
 * well-kept library beats a hand-written parser for input that crosses a
 * network.  The walk below mirrors render_run.c key by key.  A key that is
 * absent or null gives the field's NULL; a key of the wrong type is an
 * error, so a producer bug is not stored as silence.  Keys we do not know
 * are ignored: a format_version 1 producer may add some.
 */
#include "collect/ingest.h"

#include <json-c/json.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct ictx {
	struct errbuf *err;
	const char *where;  /* "step 3", "run" */
	uint32_t next_key;  /* the last connection key given */
};

static json_object *get(json_object *o, const char *k)
{
	json_object *v = NULL;
	if (!json_object_object_get_ex(o, k, &v))
		return NULL;
	return v; /* NULL for a JSON null too */
}

static int bad_type(struct ictx *c, const char *k, const char *want)
{
	return errbuf_set(c->err, PE_INVAL, "%s: \"%s\" is not %s", c->where,
			  k, want);
}

static int get_str(struct ictx *c, json_object *o, const char *k,
		   char **out)
{
	json_object *v = get(o, k);
	if (!v)
		return 0;
	if (!json_object_is_type(v, json_type_string))
		return bad_type(c, k, "a string");
	size_t n = (size_t)json_object_get_string_len(v);
	const char *s = json_object_get_string(v);
	if (n > RUN_MAX_TEXT)
		return errbuf_set(c->err, PE_LIMIT, "%s: \"%s\" is longer "
				  "than %u bytes", c->where, k, RUN_MAX_TEXT);
	if (memchr(s, '\0', n))
		return errbuf_set(c->err, PE_INVAL, "%s: \"%s\" holds a NUL",
				  c->where, k);
	char *d = strdup(s);
	if (!d)
		return errbuf_set(c->err, PE_NOMEM, "out of memory");
	free(*out);
	*out = d;
	return 0;
}

static int get_int(struct ictx *c, json_object *o, const char *k,
		   int64_t *out)
{
	json_object *v = get(o, k);
	if (!v) {
		*out = RUN_NULL_INT;
		return 0;
	}
	if (!json_object_is_type(v, json_type_int))
		return bad_type(c, k, "an integer");
	*out = json_object_get_int64(v);
	return 0;
}

static int get_num(struct ictx *c, json_object *o, const char *k,
		   double *out)
{
	json_object *v = get(o, k);
	if (!v) {
		*out = NAN;
		return 0;
	}
	if (!json_object_is_type(v, json_type_double) &&
	    !json_object_is_type(v, json_type_int))
		return bad_type(c, k, "a number");
	*out = json_object_get_double(v);
	if (!isfinite(*out))
		*out = NAN;
	return 0;
}

static int get_bool(struct ictx *c, json_object *o, const char *k,
		    bool *out)
{
	json_object *v = get(o, k);
	if (!v) {
		*out = false;
		return 0;
	}
	if (!json_object_is_type(v, json_type_boolean))
		return bad_type(c, k, "true or false");
	*out = json_object_get_boolean(v);
	return 0;
}

/* An enum column: its public name (names[1..n-1]) or null. */
static int get_enum(struct ictx *c, json_object *o, const char *k,
		    const char *const *names, unsigned n, unsigned *out)
{
	json_object *v = get(o, k);
	*out = 0;
	if (!v)
		return 0;
	if (!json_object_is_type(v, json_type_string))
		return bad_type(c, k, "a string");
	const char *s = json_object_get_string(v);
	for (unsigned i = 1; i < n; i++)
		if (strcmp(names[i], s) == 0) {
			*out = i;
			return 0;
		}
	return errbuf_set(c->err, PE_INVAL, "%s: \"%s\": unknown value "
			  "\"%.40s\"", c->where, k, s);
}

#define GET_ENUM(c, o, k, tab, field)                                     \
	do {                                                              \
		unsigned e_;                                              \
		ret = get_enum(c, o, k, tab, sizeof(tab) / sizeof(*(tab)), \
			       &e_);                                      \
		if (ret < 0)                                              \
			return ret;                                       \
		(field) = e_;                                             \
	} while (0)
#define TRY(x)                                                            \
	do {                                                              \
		if ((ret = (x)) < 0)                                      \
			return ret;                                       \
	} while (0)

/* An array key: NULL when absent or null, else it must be an array. */
static int get_arr(struct ictx *c, json_object *o, const char *k,
		   json_object **out)
{
	json_object *v = get(o, k);
	*out = NULL;
	if (!v)
		return 0;
	if (!json_object_is_type(v, json_type_array))
		return bad_type(c, k, "an array");
	*out = v;
	return 0;
}

static int need_obj(struct ictx *c, json_object *v, const char *what)
{
	if (!v || !json_object_is_type(v, json_type_object))
		return errbuf_set(c->err, PE_INVAL, "%s: a %s that is not an "
				  "object", c->where, what);
	return 0;
}

static int exchange_parse(struct ictx *c, json_object *o,
			  struct step_rec *s, uint32_t key)
{
	struct exchange_rec *e;
	int ret;

	TRY(need_obj(c, o, "exchange"));
	if ((ret = step_rec_add_exchange(s, &e)) < 0)
		return errbuf_set(c->err, ret, "%s: too many exchanges",
				  c->where);
	e->conn_key = key;
	TRY(get_int(c, o, "idx", &e->idx));
	TRY(get_str(c, o, "method", &e->method));
	TRY(get_str(c, o, "url", &e->url));
	TRY(get_int(c, o, "status", &e->status));
	GET_ENUM(c, o, "source", run_source_names, e->source);
	TRY(get_num(c, o, "dns_ms", &e->dns_ms));
	TRY(get_num(c, o, "connect_ms", &e->connect_ms));
	TRY(get_num(c, o, "tls_ms", &e->tls_ms));
	TRY(get_num(c, o, "ttfb_ms", &e->ttfb_ms));
	TRY(get_num(c, o, "total_ms", &e->total_ms));
	TRY(get_num(c, o, "request_ack_ms", &e->request_ack_ms));
	GET_ENUM(c, o, "ack_pattern", run_ack_pattern_names, e->ack_pattern);
	TRY(get_num(c, o, "ttfb_wire_ms", &e->ttfb_wire_ms));
	GET_ENUM(c, o, "ttfb_wire_quality", run_quality_names,
		 e->ttfb_wire_quality);
	TRY(get_num(c, o, "think_ms", &e->think_ms));
	GET_ENUM(c, o, "think_quality", run_quality_names, e->think_quality);
	TRY(get_num(c, o, "transfer_ms", &e->transfer_ms));
	TRY(get_num(c, o, "goodput_kbps", &e->goodput_kbps));
	TRY(get_int(c, o, "server_delayed_ack", &e->server_delayed_ack));
	TRY(get_num(c, o, "rtt_ms", &e->rtt_ms));
	TRY(get_num(c, o, "request_sent_ms", &e->request_sent_ms));
	return 0;
}

/* The fields render_conn_fields_json writes. */
static int conn_fields(struct ictx *c, json_object *o, struct conn_rec *k)
{
	int ret;

	GET_ENUM(c, o, "family", run_family_names, k->family);
	TRY(get_str(c, o, "src_addr", &k->src_addr));
	TRY(get_int(c, o, "src_port", &k->src_port));
	TRY(get_str(c, o, "dst_addr", &k->dst_addr));
	TRY(get_int(c, o, "dst_port", &k->dst_port));
	GET_ENUM(c, o, "conn_state", run_conn_state_names, k->conn_state);
	GET_ENUM(c, o, "source", run_source_names, k->source);
	TRY(get_num(c, o, "connect_ms", &k->connect_ms));
	TRY(get_num(c, o, "tls_ms", &k->tls_ms));
	TRY(get_num(c, o, "rtt_ms", &k->rtt_ms));
	GET_ENUM(c, o, "rtt_quality", run_quality_names, k->rtt_quality);
	TRY(get_int(c, o, "syn_retrans", &k->syn_retrans));
	TRY(get_num(c, o, "tls_server_ms", &k->tls_server_ms));
	TRY(get_int(c, o, "hrr", &k->hrr));
	TRY(get_int(c, o, "resumed", &k->resumed));
	TRY(get_int(c, o, "bytes_in", &k->bytes_in));
	TRY(get_int(c, o, "bytes_out", &k->bytes_out));
	TRY(get_int(c, o, "retrans", &k->retrans));
	TRY(get_int(c, o, "dup_acks", &k->dup_acks));
	TRY(get_int(c, o, "zero_window", &k->zero_window));
	TRY(get_int(c, o, "out_of_order", &k->out_of_order));
	TRY(get_int(c, o, "lost_in", &k->lost_in));
	GET_ENUM(c, o, "rst", run_rst_names, k->rst);
	TRY(get_str(c, o, "icmp", &k->icmp));
	TRY(get_int(c, o, "mss", &k->mss));
	TRY(get_int(c, o, "wscale", &k->wscale));
	TRY(get_int(c, o, "sack", &k->sack));
	return 0;
}

static bool str_eq(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

/*
 * The connection an earlier step opened that a "reused" entry names: the
 * latest with the same family, addresses and ports.  Its key, or 0.
 */
static uint32_t conn_match(const struct run_rec *run, size_t before,
			   const struct conn_rec *k)
{
	for (size_t i = before; i-- > 0;) {
		const struct step_rec *s = &run->steps[i];
		for (size_t j = s->n_conns; j-- > 0;) {
			const struct conn_rec *o = &s->conns[j];
			if (o->family == k->family &&
			    str_eq(o->src_addr, k->src_addr) &&
			    o->src_port == k->src_port &&
			    str_eq(o->dst_addr, k->dst_addr) &&
			    o->dst_port == k->dst_port)
				return o->key;
		}
	}
	return 0;
}

static int exchanges_parse(struct ictx *c, json_object *o,
			   struct step_rec *s, uint32_t key)
{
	json_object *a;
	int ret;

	TRY(get_arr(c, o, "exchanges", &a));
	for (size_t i = 0; a && i < json_object_array_length(a); i++)
		TRY(exchange_parse(c, json_object_array_get_idx(a, i), s,
				   key));
	return 0;
}

static int conn_parse(struct ictx *c, json_object *o, struct run_rec *run,
		      size_t step_i)
{
	struct step_rec *s = &run->steps[step_i];
	struct conn_rec tmp, *k;
	int ret;

	TRY(need_obj(c, o, "connection"));
	conn_rec_init(&tmp);
	ret = conn_fields(c, o, &tmp);
	uint32_t key = ret == 0 && tmp.conn_state == RUN_CONN_REUSED
			       ? conn_match(run, step_i, &tmp)
			       : 0;
	if (ret < 0 || key) {
		conn_rec_release(&tmp);
		return ret < 0 ? ret : exchanges_parse(c, o, s, key);
	}
	if ((ret = step_rec_add_conn(s, &k)) < 0) {
		conn_rec_release(&tmp);
		return errbuf_set(c->err, ret, "%s: too many connections",
				  c->where);
	}
	*k = tmp; /* the record takes tmp's strings */
	if (c->next_key == UINT32_MAX)
		return errbuf_set(c->err, PE_LIMIT, "too many connections");
	k->key = ++c->next_key;
	return exchanges_parse(c, o, s, k->key);
}

/* A finding's packets: an array of frame numbers (1-based). */
static int packets_parse(struct ictx *c, json_object *o,
			 struct finding_rec *f)
{
	json_object *a;
	uint64_t *frames;
	size_t n;
	int ret;

	TRY(get_arr(c, o, "packets", &a));
	n = a ? json_object_array_length(a) : 0;
	if (n == 0)
		return 0;
	if (n > RUN_MAX_PACKETS)
		return errbuf_set(c->err, PE_LIMIT, "%s: a finding with more "
				  "than %d packets", c->where,
				  RUN_MAX_PACKETS);
	if (!(frames = calloc(n, sizeof(*frames))))
		return errbuf_set(c->err, PE_NOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		json_object *v = json_object_array_get_idx(a, i);
		int64_t x = json_object_is_type(v, json_type_int)
				    ? json_object_get_int64(v)
				    : 0;
		if (x <= 0) {
			free(frames);
			return errbuf_set(c->err, PE_INVAL, "%s: a packet "
					  "number that is not a positive "
					  "integer", c->where);
		}
		frames[i] = (uint64_t)x;
	}
	ret = finding_rec_set_packets(f, frames, n);
	free(frames);
	if (ret < 0)
		return errbuf_set(c->err, ret, "%s: bad packet numbers",
				  c->where);
	return 0;
}

static int findings_parse(struct ictx *c, json_object *o,
			  struct run_rec *run, struct step_rec *s)
{
	json_object *a;
	int ret;

	TRY(get_arr(c, o, "findings", &a));
	for (size_t i = 0; a && i < json_object_array_length(a); i++) {
		json_object *fo = json_object_array_get_idx(a, i);
		struct finding_rec *f;
		TRY(need_obj(c, fo, "finding"));
		ret = s ? step_rec_add_finding(s, &f)
			: run_rec_add_finding(run, &f);
		if (ret < 0)
			return errbuf_set(c->err, ret, "%s: too many "
					  "findings", c->where);
		TRY(get_str(c, fo, "code", &f->code));
		TRY(packets_parse(c, fo, f));
		TRY(get_str(c, fo, "detail", &f->detail));
	}
	return 0;
}

/* answers: JSON text kept as it is (re-serialised compactly). */
static int answers_parse(struct ictx *c, json_object *o, char **out)
{
	json_object *v = get(o, "answers");
	if (!v)
		return 0;
	if (!json_object_is_type(v, json_type_array))
		return bad_type(c, "answers", "an array");
	const char *t = json_object_to_json_string_ext(
		v, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	if (!t)
		return errbuf_set(c->err, PE_NOMEM, "out of memory");
	if (strlen(t) > RUN_MAX_TEXT)
		return errbuf_set(c->err, PE_LIMIT, "%s: answers longer than "
				  "%u bytes", c->where, RUN_MAX_TEXT);
	if (!(*out = strdup(t)))
		return errbuf_set(c->err, PE_NOMEM, "out of memory");
	return 0;
}

static int cert_parse(struct ictx *c, json_object *o, struct step_rec *s)
{
	struct cert_rec *k;
	int ret;

	TRY(need_obj(c, o, "certificate"));
	if ((ret = step_rec_add_cert(s, &k)) < 0)
		return errbuf_set(c->err, ret, "%s: too many certificates",
				  c->where);
	TRY(get_int(c, o, "depth", &k->depth));
	TRY(get_str(c, o, "subject", &k->subject));
	TRY(get_str(c, o, "issuer", &k->issuer));
	TRY(get_str(c, o, "not_after", &k->not_after));
	TRY(get_int(c, o, "days_left", &k->days_left));
	TRY(get_int(c, o, "verified", &k->verified));
	return 0;
}

/* Exchanges in idx order, as the producer numbered them (the JSON
 * groups them by connection).  id holds the arrival order meanwhile. */
static int exchange_cmp(const void *pa, const void *pb)
{
	const struct exchange_rec *a = pa, *b = pb;
	if (a->idx != b->idx)
		return a->idx < b->idx ? -1 : 1;
	return (a->id > b->id) - (a->id < b->id);
}

static int step_parse(struct ictx *c, json_object *o, struct run_rec *run)
{
	struct step_rec *s;
	json_object *a;
	int ret;

	TRY(need_obj(c, o, "step"));
	if ((ret = run_rec_add_step(run, &s)) < 0)
		return errbuf_set(c->err, ret, "too many steps");
	size_t si = run->n_steps - 1;
	TRY(get_int(c, o, "idx", &s->idx));
	TRY(get_str(c, o, "name", &s->name));
	GET_ENUM(c, o, "kind", run_step_kind_names, s->kind);
	TRY(get_str(c, o, "target", &s->target));
	TRY(get_bool(c, o, "ok", &s->ok));
	TRY(get_bool(c, o, "skipped", &s->skipped));
	TRY(get_str(c, o, "error", &s->error));
	TRY(get_str(c, o, "error_detail", &s->error_detail));
	TRY(get_str(c, o, "started_at", &s->started_at));
	TRY(get_num(c, o, "dns_ms", &s->dns_ms));
	TRY(get_num(c, o, "connect_ms", &s->connect_ms));
	TRY(get_num(c, o, "tls_ms", &s->tls_ms));
	TRY(get_num(c, o, "ttfb_ms", &s->ttfb_ms));
	TRY(get_num(c, o, "total_ms", &s->total_ms));
	TRY(get_int(c, o, "status", &s->status));
	TRY(get_int(c, o, "bytes", &s->bytes));
	TRY(get_str(c, o, "http_version", &s->http_version));
	TRY(get_str(c, o, "tls_version", &s->tls_version));
	TRY(get_str(c, o, "tls_cipher", &s->tls_cipher));
	TRY(get_str(c, o, "alpn", &s->alpn));
	TRY(get_int(c, o, "tls_resumed", &s->tls_resumed));
	GET_ENUM(c, o, "conn_state", run_conn_state_names, s->conn_state);
	GET_ENUM(c, o, "family", run_family_names, s->family);
	TRY(get_int(c, o, "rcode", &s->rcode));
	TRY(answers_parse(c, o, &s->answers));
	TRY(get_arr(c, o, "certificates", &a));
	for (size_t i = 0; a && i < json_object_array_length(a); i++)
		TRY(cert_parse(c, json_object_array_get_idx(a, i), s));
	TRY(get_arr(c, o, "connections", &a));
	for (size_t i = 0; a && i < json_object_array_length(a); i++) {
		TRY(conn_parse(c, json_object_array_get_idx(a, i), run, si));
		s = &run->steps[si];
	}
	for (size_t i = 0; i < s->n_exchanges; i++)
		s->exchanges[i].id = (int64_t)i;
	if (s->n_exchanges > 1) /* exchanges is NULL when empty */
		qsort(s->exchanges, s->n_exchanges, sizeof(*s->exchanges),
		      exchange_cmp);
	for (size_t i = 0; i < s->n_exchanges; i++)
		s->exchanges[i].id = 0;
	return findings_parse(c, o, run, s);
}

static int thresh_parse(struct ictx *c, json_object *o, struct run_rec *run)
{
	struct thresh_rec *t;
	int ret;

	TRY(need_obj(c, o, "threshold"));
	if ((ret = run_rec_add_thresh(run, &t)) < 0)
		return errbuf_set(c->err, ret, "too many thresholds");
	TRY(get_str(c, o, "threshold", &t->threshold));
	TRY(get_str(c, o, "metric", &t->metric));
	TRY(get_str(c, o, "step", &t->step));
	TRY(get_num(c, o, "value", &t->value));
	TRY(get_num(c, o, "limit", &t->limit_value));
	TRY(get_int(c, o, "baseline_n", &t->baseline_n));
	TRY(get_bool(c, o, "met", &t->met));
	TRY(get_bool(c, o, "breached", &t->breached));
	TRY(get_str(c, o, "note", &t->note));
	return 0;
}

static int run_parse(struct ictx *c, json_object *o, struct run_rec *run)
{
	json_object *a, *v;
	int64_t fv, seq;
	char *pcap = NULL;
	int ret;

	TRY(need_obj(c, o, "run"));
	TRY(get_int(c, o, "format_version", &fv));
	if (fv == RUN_NULL_INT)
		return errbuf_set(c->err, PE_INVAL, "no format_version");
	if (fv != INGEST_FORMAT_VERSION)
		return errbuf_set(c->err, PE_INVAL, "format_version %lld: this "
				  "probe reads version %d only (upgrade it)",
				  (long long)fv, INGEST_FORMAT_VERSION);
	TRY(get_str(c, o, "run_id", &run->run_id));
	if (!run->run_id || !*run->run_id)
		return errbuf_set(c->err, PE_INVAL, "no run_id");
	TRY(get_int(c, o, "seq", &seq));
	run->seq = seq == RUN_NULL_INT ? 0 : seq;
	TRY(get_str(c, o, "scenario", &run->scenario));
	TRY(get_str(c, o, "scenario_file", &run->scenario_file));
	TRY(get_str(c, o, "region", &run->region));
	TRY(get_str(c, o, "probe_id", &run->probe_id));
	TRY(get_str(c, o, "started_at", &run->started_at));
	TRY(get_str(c, o, "finished_at", &run->finished_at));
	TRY(get_bool(c, o, "ok", &run->ok));
	TRY(get_bool(c, o, "breach", &run->breach));
	TRY(get_str(c, o, "error", &run->error));
	/* not in format 1, and the store wants one */
	TRY(get_str(c, o, "probe_version", &run->probe_version));
	if (!run->probe_version && !(run->probe_version = strdup("unknown")))
		return errbuf_set(c->err, PE_NOMEM, "out of memory");
	GET_ENUM(c, o, "clock_sync", run_clock_sync_names, run->clock_sync);
	GET_ENUM(c, o, "capture", run_capture_names, run->capture);
	TRY(get_int(c, o, "capture_drops", &run->capture_drops));
	TRY(get_int(c, o, "capture_truncated", &run->capture_truncated));
	TRY(get_str(c, o, "pcap", &pcap));
	if (pcap) {
		if (!(run->pcap = malloc(sizeof(*run->pcap)))) {
			free(pcap);
			return errbuf_set(c->err, PE_NOMEM, "out of memory");
		}
		pcap_rec_init(run->pcap);
		run->pcap->path = pcap;
	}
	TRY(get_arr(c, o, "thresholds", &a));
	for (size_t i = 0; a && i < json_object_array_length(a); i++)
		TRY(thresh_parse(c, json_object_array_get_idx(a, i), run));
	TRY(get_arr(c, o, "steps", &a));
	for (size_t i = 0; a && i < json_object_array_length(a); i++) {
		char where[32];
		snprintf(where, sizeof(where), "step %zu", i + 1);
		c->where = where;
		v = json_object_array_get_idx(a, i);
		ret = step_parse(c, v, run);
		c->where = "run";
		if (ret < 0)
			return ret;
	}
	return findings_parse(c, o, run, NULL);
}

int ingest_run_json(const char *text, size_t len, struct run_rec *run,
		    struct errbuf *err)
{
	struct ictx c = { err, "run", 0 };
	json_tokener *tok;
	json_object *o;
	int ret;

	if (len > INGEST_MAX_BYTES)
		return errbuf_set(err, PE_LIMIT, "a run of %zu bytes: over "
				  "the %u byte cap", len, INGEST_MAX_BYTES);
	if (!(tok = json_tokener_new_ex(INGEST_MAX_DEPTH)))
		return errbuf_set(err, PE_NOMEM, "out of memory");
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
					    JSON_TOKENER_VALIDATE_UTF8);
	o = json_tokener_parse_ex(tok, text, (int)len);
	enum json_tokener_error je = json_tokener_get_error(tok);
	size_t end = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	if (!o || je != json_tokener_success) {
		json_object_put(o);
		if (je == json_tokener_error_depth)
			return errbuf_set(err, PE_LIMIT, "JSON nested deeper "
					  "than %d", INGEST_MAX_DEPTH);
		return errbuf_set(err, PE_INVAL, "not JSON: %s at byte %zu",
				  je == json_tokener_continue
					  ? "unexpected end"
					  : json_tokener_error_desc(je),
				  end);
	}
	for (size_t i = end; i < len; i++)
		if (!strchr(" \t\r\n", text[i]) || text[i] == '\0') {
			json_object_put(o);
			return errbuf_set(err, PE_INVAL, "not JSON: more "
					  "after the object at byte %zu", i);
		}
	ret = run_parse(&c, o, run);
	json_object_put(o);
	if (ret < 0)
		run_rec_release(run);
	return ret;
}
