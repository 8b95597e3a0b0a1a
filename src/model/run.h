/*
 * run.h: one run as it is stored, in plain C structs.
 *
 * The executor and the analyzer fill a struct run_rec; store_run_save()
 * writes it to SQLite in one transaction; --json and `serve` render it.
 * Field names are the column names of schema/001_initial.sql, which are
 * the public names of DESIGN section 5.
 *
 * NULL (unknown, not applicable) has one in-band value per C type:
 *   char *      NULL
 *   double      NAN (test with isnan(); any non-finite value stores as NULL)
 *   int64_t     RUN_NULL_INT (INT64_MIN), also for the nullable 0/1 flags
 *   enum run_*  0 (the *_NULL member)
 *   bool        never NULL (the columns are NOT NULL)
 * Zero is a value, not NULL: start every record with its x_init() (or get
 * it from an x_add_*() helper), which sets all nullable fields to NULL.
 *
 * Ownership: every char * and every array is owned by the record holding
 * it (malloc'ed; run_rec_release() frees the lot).  Arrays grow through
 * the *_add_*() helpers, which cap them (RUN_MAX_*) and return a pointer
 * into the array that the next add to the same array may move.
 *
 * Connections are referenced across steps (a later step reuses one) by a
 * key the producer picks: conn_rec.key, unique and non-zero within the run
 * when something refers to it; exchange_rec.conn_key and
 * finding_rec.conn_key name it (0: no connection).
 */
#ifndef PROBE_MODEL_RUN_H
#define PROBE_MODEL_RUN_H

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

#define RUN_NULL_INT INT64_MIN

/* Caps on what one run can hold; an add beyond them gives PE_LIMIT. */
#define RUN_MAX_STEPS 1024         /* steps of a run */
#define RUN_MAX_CERTS 16           /* certificates of a step's chain */
#define RUN_MAX_CONNS 4096         /* connections of a step (or the run) */
#define RUN_MAX_EXCHANGES 4096     /* exchanges of a step */
#define RUN_MAX_FINDINGS 4096      /* findings of a step (or the run) */
#define RUN_MAX_THRESHOLDS 256     /* thresholds of a run */
#define RUN_MAX_PACKETS 4096       /* frame numbers of a finding */
#define RUN_MAX_TEXT (64u * 1024)  /* bytes of any one string, for store */

/*
 * Enumerated columns.  The names tables below (indexed by the enum, [0]
 * NULL) hold the values as stored and printed: they are public.
 */
enum run_step_kind {
	RUN_KIND_NULL, RUN_KIND_DNS, RUN_KIND_TCP, RUN_KIND_TLS, RUN_KIND_HTTP,
	RUN_KIND_COUNT
};
enum run_conn_state {
	RUN_CONN_NULL, RUN_CONN_NEW, RUN_CONN_REUSED, RUN_CONN_RESUMED,
	RUN_CONN_COUNT
};
enum run_family {
	RUN_FAMILY_NULL, RUN_FAMILY_IPV4, RUN_FAMILY_IPV6, RUN_FAMILY_COUNT
};
/* Where a row's wire figures come from. */
enum run_source {
	RUN_SOURCE_NULL, RUN_SOURCE_PCAP, RUN_SOURCE_TCP_INFO,
	RUN_SOURCE_LIBRARY, RUN_SOURCE_COUNT
};
/* How far a figure can be trusted (the *_quality columns). */
enum run_quality {
	RUN_QUALITY_NULL,
	RUN_QUALITY_MEASURED,     /* read directly off the packets */
	RUN_QUALITY_INFERRED,     /* classified from timing and sizes */
	RUN_QUALITY_AMBIGUOUS,    /* packets cannot tell; figure NULL */
	RUN_QUALITY_INCONSISTENT, /* implausibly negative; figure NULL */
	RUN_QUALITY_COUNT
};
enum run_ack_pattern {
	RUN_ACK_NULL, RUN_ACK_PIGGYBACKED, RUN_ACK_SEPARATE, RUN_ACK_CONTROL,
	RUN_ACK_UNKNOWN, RUN_ACK_COUNT
};
/* Who sent a connection's first RST (NULL: nobody). */
enum run_rst { RUN_RST_NULL, RUN_RST_CLIENT, RUN_RST_SERVER, RUN_RST_COUNT };
enum run_clock_sync {
	RUN_CLOCK_NULL, RUN_CLOCK_SYNCED, RUN_CLOCK_UNSYNCED, RUN_CLOCK_UNKNOWN,
	RUN_CLOCK_COUNT
};
enum run_capture {
	RUN_CAPTURE_NULL, RUN_CAPTURE_ON, RUN_CAPTURE_OFF,
	RUN_CAPTURE_UNAVAILABLE, RUN_CAPTURE_COUNT
};

extern const char *const run_step_kind_names[RUN_KIND_COUNT];
extern const char *const run_conn_state_names[RUN_CONN_COUNT];
extern const char *const run_family_names[RUN_FAMILY_COUNT];
extern const char *const run_source_names[RUN_SOURCE_COUNT];
extern const char *const run_quality_names[RUN_QUALITY_COUNT];
extern const char *const run_ack_pattern_names[RUN_ACK_COUNT];
extern const char *const run_rst_names[RUN_RST_COUNT];
extern const char *const run_clock_sync_names[RUN_CLOCK_COUNT];
extern const char *const run_capture_names[RUN_CAPTURE_COUNT];

/* Times of day below are UTC text as the schema wants it:
 * "2026-11-23T13:43:04.123456Z". */

/* One certificate of a chain (table certificates). */
struct cert_rec {
	int64_t id;          /* out: set by store_run_save */
	int64_t depth;       /* 0 = leaf; set by step_rec_add_cert */
	char *subject, *issuer;
	char *not_after;
	int64_t days_left;
	int64_t verified;    /* 0/1 */
};

/* One TCP connection (table connections). */
struct conn_rec {
	int64_t id;          /* out: set by store_run_save */
	uint32_t key;        /* run-wide reference, 0 = not referenced */
	enum run_family family;
	char *src_addr;
	int64_t src_port;
	char *dst_addr;
	int64_t dst_port;
	enum run_conn_state conn_state;
	enum run_source source;
	double rtt_ms;
	enum run_quality rtt_quality;
	int64_t syn_retrans;
	double tls_server_ms;
	enum run_quality tls_server_quality;
	int64_t hrr, resumed;  /* 0/1 */
	int64_t bytes_in, bytes_out, retrans, dup_acks, zero_window;
	int64_t out_of_order, lost_in;
	enum run_rst rst;
	double rst_at_ms;      /* from the connection's first packet */
	char *icmp;            /* "type/code" */
	int64_t mss, wscale;
	int64_t sack;          /* 0/1 */
	/* library timings of this connection (schema 002) */
	double connect_ms, tls_ms;
};

/* One request/response exchange (table exchanges). */
struct exchange_rec {
	int64_t id;          /* out: set by store_run_save */
	uint32_t conn_key;   /* its connection's key; 0 = unknown */
	int64_t idx;         /* 1-based in the step (step_rec_add_exchange) */
	char *method;
	char *url;           /* redacted by the producer */
	int64_t status;
	enum run_source source;
	double dns_ms, connect_ms, tls_ms, ttfb_ms, total_ms;
	double request_ack_ms;
	enum run_ack_pattern ack_pattern;
	double ttfb_wire_ms;
	enum run_quality ttfb_wire_quality;
	double think_ms;
	enum run_quality think_quality;
	double transfer_ms, goodput_kbps;
	int64_t server_delayed_ack; /* 0/1 */
	/* schema 005: the RTT think_ms was taken against; TLS done (the
	 * connection ready) -> the request's last byte on the wire, the
	 * two clocks mapped per run */
	double rtt_ms, request_sent_ms;
	/* not stored: the library's CLOCK_MONOTONIC ns when the connection
	 * was ready for this request (curl's prerequest callback); 0 none.
	 * an_run maps the wire onto it to get request_sent_ms. */
	uint64_t ready_mono_ns;
};

/* One finding (table findings). */
struct finding_rec {
	int64_t id;          /* out: set by store_run_save */
	uint32_t conn_key;   /* the connection it is about; 0 = none */
	char *code;          /* "SYN_NO_SYNACK"; required */
	char *packets;       /* JSON array text: "[3,4,9]" */
	char *detail;
};

/* One step (table steps) and what hangs off it. */
struct step_rec {
	int64_t id;          /* out: set by store_run_save */
	int64_t idx;         /* 1-based; set by run_rec_add_step */
	char *name;
	enum run_step_kind kind;
	char *target;        /* never an expanded environment variable */
	bool ok, skipped;
	char *error;         /* error class "dns.nxdomain"; NULL when ok */
	char *error_detail;
	char *started_at;
	double dns_ms, connect_ms, tls_ms, ttfb_ms, total_ms;
	int64_t status, bytes;
	char *tls_version, *tls_cipher, *alpn;
	int64_t tls_resumed;   /* 0/1 */
	char *http_version;
	enum run_conn_state conn_state;
	enum run_family family;
	int64_t rcode;
	char *answers;         /* JSON array text */

	struct cert_rec *certs;
	size_t n_certs, cap_certs;
	struct conn_rec *conns;         /* connections this step opened */
	size_t n_conns, cap_conns;
	struct exchange_rec *exchanges;
	size_t n_exchanges, cap_exchanges;
	struct finding_rec *findings;
	size_t n_findings, cap_findings;
};

/* An escalation pcap written for the run (table pcaps). */
struct pcap_rec {
	int64_t id;          /* out: set by store_run_save */
	char *path;
	int64_t bytes;
	char *sha256;        /* 64 lower-case hex digits */
	char *created_at, *expires_at;
	bool pruned;
	char *pruned_at;
	char *reason;        /* "breach" or "always" (schema 003) */
	int64_t keylog;      /* 0/1: the file carries TLS secrets */
};

/* One threshold evaluated for a run (table threshold_evals, schema 003). */
struct thresh_rec {
	int64_t id;          /* out: set by store_run_save */
	char *threshold;     /* canonical text: "think_ms > 300 for 3 runs" */
	char *metric;
	char *step;          /* NULL: no step had the figure */
	double value, limit_value;
	int64_t baseline_n;  /* relative thresholds; RUN_NULL_INT absolute */
	bool met, breached;
	char *note;
};

/* A whole run (table runs). */
struct run_rec {
	int64_t seq;         /* out: set by store_run_save */
	char *run_id;        /* probe_id + "-" + uuid */
	char *scenario, *scenario_file;
	char *region, *probe_id;
	char *started_at, *finished_at;
	bool ok, breach;
	enum run_clock_sync clock_sync;
	enum run_capture capture;
	int64_t capture_drops, capture_truncated;
	char *probe_version;
	char *error;         /* run-level error class, or NULL */

	struct step_rec *steps;
	size_t n_steps, cap_steps;
	struct conn_rec *conns;         /* connections no step owns */
	size_t n_conns, cap_conns;
	struct finding_rec *findings;   /* run-wide findings */
	size_t n_findings, cap_findings;
	struct pcap_rec *pcap;          /* optional, owned */
	struct thresh_rec *thresholds;  /* evaluated thresholds */
	size_t n_thresholds, cap_thresholds;
};

/* Set every field to its NULL (arrays empty, ids 0). */
void run_rec_init(struct run_rec *run);
void step_rec_init(struct step_rec *step);
void cert_rec_init(struct cert_rec *cert);
void conn_rec_init(struct conn_rec *conn);
void exchange_rec_init(struct exchange_rec *ex);
void finding_rec_init(struct finding_rec *f);
void pcap_rec_init(struct pcap_rec *pcap);
void thresh_rec_init(struct thresh_rec *t);

/* Free everything the record owns and re-init it. */
void run_rec_release(struct run_rec *run);
void step_rec_release(struct step_rec *step);
void cert_rec_release(struct cert_rec *cert);
void conn_rec_release(struct conn_rec *conn);
void exchange_rec_release(struct exchange_rec *ex);
void finding_rec_release(struct finding_rec *f);
void pcap_rec_release(struct pcap_rec *pcap);
void thresh_rec_release(struct thresh_rec *t);

/*
 * Append an initialised element and point *out at it.  Steps get
 * idx = their 1-based position, exchanges likewise, certificates depth =
 * their 0-based position (override if need be).  PE_LIMIT past the cap,
 * PE_NOMEM; *out is untouched on failure.
 */
int run_rec_add_step(struct run_rec *run, struct step_rec **out)
	PE_WARN_UNUSED;
int run_rec_add_conn(struct run_rec *run, struct conn_rec **out)
	PE_WARN_UNUSED;
int run_rec_add_finding(struct run_rec *run, struct finding_rec **out)
	PE_WARN_UNUSED;
int run_rec_add_thresh(struct run_rec *run, struct thresh_rec **out)
	PE_WARN_UNUSED;
int step_rec_add_cert(struct step_rec *step, struct cert_rec **out)
	PE_WARN_UNUSED;
int step_rec_add_conn(struct step_rec *step, struct conn_rec **out)
	PE_WARN_UNUSED;
int step_rec_add_exchange(struct step_rec *step, struct exchange_rec **out)
	PE_WARN_UNUSED;
int step_rec_add_finding(struct step_rec *step, struct finding_rec **out)
	PE_WARN_UNUSED;

/* The connection of the run whose key is key (a step's), or NULL. */
const struct conn_rec *run_rec_conn_by_key(const struct run_rec *run,
					   uint32_t key);

/*
 * Set f->packets to the JSON array of the n frame numbers (1-based),
 * replacing what was there.  PE_LIMIT when n > RUN_MAX_PACKETS, PE_INVAL
 * for a frame number 0, PE_NOMEM.
 */
int finding_rec_set_packets(struct finding_rec *f, const uint64_t *frames,
			    size_t n) PE_WARN_UNUSED;

#endif
