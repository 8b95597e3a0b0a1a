/*
 * metric.h: the public metric names of DESIGN section 5, in one table.
 *
 * These names are a contract: JSON keys of --json, SQLite column names,
 * `threshold` metrics in scenarios.  They appear here once (STYLE.md 3);
 * everything else refers to them through enum metric.
 */
#ifndef PROBE_MODEL_METRIC_H
#define PROBE_MODEL_METRIC_H

#include <stddef.h>

enum metric {
	/* per step, from the libraries */
	M_DNS_MS, M_CONNECT_MS, M_TLS_MS, M_TTFB_MS, M_TOTAL_MS,
	/* per TCP connection, from packets */
	M_RTT_MS, M_TLS_SERVER_MS, M_SYN_RETRANS,
	M_BYTES_IN, M_BYTES_OUT, M_RETRANS, M_DUP_ACKS, M_ZERO_WINDOW,
	M_OUT_OF_ORDER, M_LOST_IN,
	/* per request/response exchange */
	M_REQUEST_ACK_MS, M_TTFB_WIRE_MS, M_THINK_MS, M_TRANSFER_MS,
	M_GOODPUT_KBPS,
	M_COUNT
};

enum metric_level { METRIC_STEP, METRIC_CONNECTION, METRIC_EXCHANGE };

enum metric_unit {
	METRIC_UNIT_MS,    /* milliseconds, µs resolution */
	METRIC_UNIT_COUNT, /* a non-negative integer */
	METRIC_UNIT_KBPS,  /* kilobits per second */
};

struct metric_info {
	const char *name;        /* public name: "think_ms" */
	enum metric_level level;
	enum metric_unit unit;
	const char *help;        /* one line, for docs and Prometheus HELP */
};

/* The table entry of m (m < M_COUNT). */
const struct metric_info *metric_info(enum metric m);
/* Look a public name up; returns -1 when it is not one. */
int metric_by_name(const char *name);

#endif
