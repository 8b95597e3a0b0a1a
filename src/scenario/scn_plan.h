/*
 * scn_plan.h: the plan a scenario file compiles to.
 *
 * The parser (scn_parse.c) turns a .scn file into a struct scn_plan; the
 * step runners execute it; the store records what it named.  A plan holds
 * no secrets: values that mention ${VAR} keep the reference (a template),
 * and are expanded only at execution time into short-lived buffers (see
 * scn_tmpl_expand), so an environment secret never reaches the database,
 * the logs or --dry-run output.
 *
 * Ownership: everything hanging off a plan belongs to it; scn_plan_release()
 * frees it all.  Strings are NUL-terminated and never NULL unless the field
 * says "optional".
 */
#ifndef PROBE_SCENARIO_SCN_PLAN_H
#define PROBE_SCENARIO_SCN_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "util/err.h"

/* ---- templates: strings that may contain ${VAR} ------------------------ */

enum scn_seg_kind {
	SCN_SEG_LIT,     /* literal text */
	SCN_SEG_ENV,     /* ${NAME} from the environment (a secret, maybe) */
	SCN_SEG_EXTRACT, /* ${NAME} from an earlier step's extract */
};

struct scn_seg {
	enum scn_seg_kind kind;
	char *text; /* the literal, or the variable's name */
};

struct scn_tmpl {
	struct scn_seg *segs;
	size_t n;
};

/* ---- scenario-level settings ------------------------------------------ */

enum scn_capture { SCN_CAPTURE_ON, SCN_CAPTURE_OFF, SCN_CAPTURE_REQUIRED };
enum scn_keep_pcap { SCN_KEEP_ON_BREACH, SCN_KEEP_ALWAYS, SCN_KEEP_NEVER };

/* An address the probe resolves names with: always an IP, never a name. */
struct scn_resolver {
	int family;         /* AF_INET or AF_INET6 */
	char addr[46];      /* numeric, without brackets */
	uint16_t port;      /* 53 unless given */
};

enum scn_cmp { SCN_CMP_GT, SCN_CMP_GE, SCN_CMP_LT, SCN_CMP_LE };

/* threshold METRIC OP VALUE [x baseline] [for N runs] [step=NAME] */
struct scn_threshold {
	unsigned line;
	char *metric;       /* a public name of DESIGN section 5, or a
			     * finding code of section 6 (is_finding) */
	bool is_finding;    /* the figure is the number of such findings */
	enum scn_cmp cmp;
	double value;       /* in the metric's unit (ms for *_ms) */
	bool of_baseline;   /* relative to this region's baseline: */
	unsigned pct;       /* 0: value is a factor of its p50; 50, 90, 95,
			     * 99: the limit is that percentile (value 1) */
	unsigned for_runs;  /* consecutive breaching runs needed (>= 1) */
	char *step;         /* optional: only this step (by name) */
};

/*
 * The threshold in canonical form, as `probe run --dry-run` prints it and
 * the store keys `for N runs` on: "think_ms > 300", "rtt_ms > 2x
 * baseline for 3 runs step=login", "rtt_ms > p95", "RETRANSMISSIONS >= 1".
 * Malloc'ed; NULL on PE_NOMEM.
 */
char *scn_threshold_text(const struct scn_threshold *t);

/* ---- options shared by steps (also settable with `defaults`) ----------- */

enum scn_ip { SCN_IP_ANY, SCN_IP_4, SCN_IP_6, SCN_IP_BOTH };
enum scn_http_ver { SCN_HTTP_ANY, SCN_HTTP_1_1, SCN_HTTP_2 };
enum scn_dns_tcp { SCN_DNS_TCP_AUTO, SCN_DNS_TCP_ALWAYS, SCN_DNS_TCP_NEVER };

/* TLS protocol versions, numbered as on the wire (0x0303 = TLS 1.2). */
#define SCN_TLS_ANY 0

/*
 * Options a step can carry.  `set` has a bit per option given explicitly
 * (SCN_OPT_* below), so `defaults` can be merged under a step's own.
 */
struct scn_opts {
	uint32_t set;
	uint32_t timeout_ms;
	enum scn_ip ip;
	enum scn_http_ver http;
	uint16_t tls_min, tls_max; /* SCN_TLS_ANY or 0x0301..0x0304 */
	struct scn_tmpl sni;
	char *alpn;                /* comma list as given: "h2,http/1.1" */
	char *ca;                  /* a file, or "system" */
	char *cert, *key;          /* client certificate and key files */
	char **pins;               /* "sha256//BASE64", n_pins of them */
	size_t n_pins;
	int min_days_valid;
	struct scn_tmpl proxy;
	uint64_t max_body;         /* bytes */
	unsigned follow;           /* redirects followed, hop by hop */
	struct scn_resolver resolver; /* dns: query this server instead */
	unsigned retries;          /* dns */
	enum scn_dns_tcp dns_tcp;  /* dns: TCP use */
};

enum scn_opt_bit {
	SCN_OPT_TIMEOUT = 1u << 0,
	SCN_OPT_IP = 1u << 1,
	SCN_OPT_HTTP = 1u << 2,
	SCN_OPT_TLS_MIN = 1u << 3,
	SCN_OPT_TLS_MAX = 1u << 4,
	SCN_OPT_SNI = 1u << 5,
	SCN_OPT_ALPN = 1u << 6,
	SCN_OPT_CA = 1u << 7,
	SCN_OPT_CERT = 1u << 8,
	SCN_OPT_KEY = 1u << 9,
	SCN_OPT_PIN = 1u << 10,
	SCN_OPT_MIN_DAYS = 1u << 11,
	SCN_OPT_PROXY = 1u << 12,
	SCN_OPT_MAX_BODY = 1u << 13,
	SCN_OPT_FOLLOW = 1u << 14,
	SCN_OPT_RESOLVER = 1u << 15,
	SCN_OPT_RETRIES = 1u << 16,
	SCN_OPT_DNS_TCP = 1u << 17,
	SCN_OPT_NAME = 1u << 18,
	SCN_OPT_HEADER = 1u << 19,
	SCN_OPT_BODY = 1u << 20,
};

/* ---- steps ------------------------------------------------------------- */

enum scn_step_kind { SCN_STEP_DNS, SCN_STEP_TCP, SCN_STEP_TLS, SCN_STEP_HTTP };

/* DNS record types the dns step asks for (values are the wire QTYPEs). */
enum scn_qtype {
	SCN_QT_A = 1, SCN_QT_NS = 2, SCN_QT_CNAME = 5, SCN_QT_SOA = 6,
	SCN_QT_PTR = 12, SCN_QT_MX = 15, SCN_QT_TXT = 16, SCN_QT_AAAA = 28,
	SCN_QT_SRV = 33, SCN_QT_CAA = 257,
};

#define SCN_MAX_QTYPES 10 /* every type above, once */

/* What an expectation looks at, and how. */
enum scn_expect_what { SCN_EXP_STATUS, SCN_EXP_BODY, SCN_EXP_HEADER, SCN_EXP_RCODE };
enum scn_expect_op {
	SCN_EXP_EQ,        /* status=200,2xx  header:X=v  rcode=NXDOMAIN */
	SCN_EXP_CONTAINS,  /* body*='text'  header:X*='text' */
	SCN_EXP_MATCH,     /* body~'regex'  header:X~'regex' */
	SCN_EXP_NOMATCH,   /* body!~'regex' header:X!~'regex' */
};

struct scn_expect {
	unsigned col;
	enum scn_expect_what what;
	enum scn_expect_op op;
	char *header;           /* SCN_EXP_HEADER: the header's name */
	struct scn_tmpl value;  /* text or regex (POSIX ERE) */
	/* SCN_EXP_STATUS: accepted codes; 2xx is stored as 200..299 */
	uint16_t status_lo[8], status_hi[8];
	size_t n_status;
	int rcode;              /* SCN_EXP_RCODE: the DNS rcode */
};

/* extract NAME='REGEX': the first group of the response body. */
struct scn_extract {
	char *name;
	char *regex;            /* POSIX ERE with at least one group */
};

struct scn_step {
	enum scn_step_kind kind;
	unsigned index;          /* 1-based position in the scenario */
	unsigned line, col;      /* where the step starts */
	char *name;              /* name=..., else "<kind>#<index>" */
	struct scn_opts opts;    /* the step's own merged over `defaults` */

	/* dns: the name; tcp/tls: the host; http: the URL */
	struct scn_tmpl target;
	uint16_t port;           /* tcp/tls */
	uint16_t qtypes[SCN_MAX_QTYPES]; /* dns: distinct, in the order given */
	size_t n_qtypes;

	/* http */
	char *method;
	struct scn_tmpl *headers; /* "Name: value" each */
	size_t n_headers;
	struct scn_tmpl body;     /* n == 0: no body */
	bool has_body;
	struct scn_expect *expects;
	size_t n_expects;
	struct scn_extract *extracts;
	size_t n_extracts;
};

/* ---- the plan ---------------------------------------------------------- */

/* A variable the plan reads from the environment, and where first used. */
struct scn_var_ref {
	char *name;
	unsigned line, col;
};

struct scn_plan {
	char *file;              /* path as given */
	char *name;              /* `scenario NAME`, else the file's stem */
	struct scn_resolver resolvers[4];
	size_t n_resolvers;      /* 0: the system's resolvers */
	enum scn_capture capture;
	uint32_t timeout_ms;     /* whole-run budget */
	enum scn_keep_pcap keep_pcap;
	bool keylog;
	struct scn_threshold *thresholds;
	size_t n_thresholds;
	struct scn_opts defaults;
	struct scn_step *steps;
	size_t n_steps;
	struct scn_var_ref *env_vars; /* distinct ${NAME}s from the environment */
	size_t n_env_vars;
};

/* Defaults of a plan when the file does not say otherwise. */
#define SCN_DEFAULT_RUN_TIMEOUT_MS 30000u
#define SCN_DEFAULT_STEP_TIMEOUT_MS 10000u
#define SCN_DEFAULT_MAX_BODY (10u * 1024 * 1024)
#define SCN_DEFAULT_DNS_RETRIES 2u

/* Free everything the plan owns and zero it. */
void scn_plan_release(struct scn_plan *plan);

/*
 * Expand a template.  Variables are looked up with lookup(name, ctx), which
 * returns a borrowed string or NULL.  Returns a malloc'ed string the caller
 * frees (and should wipe when the template has SCN_SEG_ENV parts), or NULL
 * with err set naming the missing variable or PE_NOMEM.
 */
char *scn_tmpl_expand(const struct scn_tmpl *t,
		      const char *(*lookup)(const char *name, void *ctx),
		      void *ctx, struct errbuf *err);

/*
 * Render a template for display or storage: literals as they are,
 * variables as ${NAME}, never their values.  Caller frees.
 */
char *scn_tmpl_show(const struct scn_tmpl *t);

/* true when the template contains no variable. */
bool scn_tmpl_is_literal(const struct scn_tmpl *t);

/* Names for enums, as written in scenario files ("dns", "on_breach"...). */
const char *scn_step_kind_name(enum scn_step_kind k);
const char *scn_capture_name(enum scn_capture c);
const char *scn_keep_pcap_name(enum scn_keep_pcap k);
const char *scn_ip_name(enum scn_ip ip);
const char *scn_cmp_name(enum scn_cmp c);
const char *scn_qtype_name(uint16_t qtype);       /* NULL if unknown */
const char *scn_tls_version_name(uint16_t v);     /* "1.2"; "any" for 0 */
const char *scn_rcode_name(int rcode);            /* "NXDOMAIN"; NULL */

/*
 * Print the plan as `probe run --dry-run` shows it: every setting with its
 * effective value, each step with its effective options.  Variables stay
 * unexpanded.
 */
void scn_plan_print(const struct scn_plan *plan, FILE *out);

#endif
