/*
 * store_cols.c: the columns of each table, once (store/internal.h): what
 * store_run.c binds when it saves a run and store_serve.c reads when it
 * loads one back.  A column name is the C field's name by construction
 * (#field), and each field's C type picks how it is bound and read
 * (_Generic): the struct, the statements and the schema cannot drift
 * apart silently.
 */
#include "store/internal.h"

#include <stddef.h>

#define NCOLS(a) (sizeof(a) / sizeof((a)[0]))

static const struct store_col run_v[] = {
	COL(run_rec, run_id), COL(run_rec, scenario),
	COL(run_rec, scenario_file), COL(run_rec, region),
	COL(run_rec, probe_id), COL(run_rec, started_at),
	COL(run_rec, finished_at), COL(run_rec, ok), COL(run_rec, breach),
	ECOL(run_rec, clock_sync, run_clock_sync_names),
	ECOL(run_rec, capture, run_capture_names),
	COL(run_rec, capture_drops), COL(run_rec, capture_truncated),
	COL(run_rec, probe_version), COL(run_rec, error),
};

static const struct store_col step_v[] = {
	COL(step_rec, idx), COL(step_rec, name),
	ECOL(step_rec, kind, run_step_kind_names), COL(step_rec, target),
	COL(step_rec, ok), COL(step_rec, skipped), COL(step_rec, error),
	COL(step_rec, error_detail), COL(step_rec, started_at),
	COL(step_rec, dns_ms), COL(step_rec, connect_ms),
	COL(step_rec, tls_ms), COL(step_rec, ttfb_ms),
	COL(step_rec, total_ms), COL(step_rec, status), COL(step_rec, bytes),
	COL(step_rec, tls_version), COL(step_rec, tls_cipher),
	COL(step_rec, alpn), COL(step_rec, tls_resumed),
	COL(step_rec, http_version),
	ECOL(step_rec, conn_state, run_conn_state_names),
	ECOL(step_rec, family, run_family_names), COL(step_rec, rcode),
	COL(step_rec, answers),
};

static const struct store_col cert_v[] = {
	COL(cert_rec, depth), COL(cert_rec, subject), COL(cert_rec, issuer),
	COL(cert_rec, not_after), COL(cert_rec, days_left),
	COL(cert_rec, verified),
};

static const struct store_col conn_v[] = {
	ECOL(conn_rec, family, run_family_names), COL(conn_rec, src_addr),
	COL(conn_rec, src_port), COL(conn_rec, dst_addr),
	COL(conn_rec, dst_port),
	ECOL(conn_rec, conn_state, run_conn_state_names),
	ECOL(conn_rec, source, run_source_names), COL(conn_rec, rtt_ms),
	ECOL(conn_rec, rtt_quality, run_quality_names),
	COL(conn_rec, syn_retrans), COL(conn_rec, tls_server_ms),
	ECOL(conn_rec, tls_server_quality, run_quality_names),
	COL(conn_rec, hrr), COL(conn_rec, resumed), COL(conn_rec, bytes_in),
	COL(conn_rec, bytes_out), COL(conn_rec, retrans),
	COL(conn_rec, dup_acks), COL(conn_rec, zero_window),
	COL(conn_rec, out_of_order), COL(conn_rec, lost_in),
	ECOL(conn_rec, rst, run_rst_names), COL(conn_rec, rst_at_ms),
	COL(conn_rec, icmp), COL(conn_rec, mss), COL(conn_rec, wscale),
	COL(conn_rec, sack), COL(conn_rec, connect_ms), COL(conn_rec, tls_ms),
};

static const struct store_col exchange_v[] = {
	COL(exchange_rec, idx), COL(exchange_rec, method),
	COL(exchange_rec, url), COL(exchange_rec, status),
	ECOL(exchange_rec, source, run_source_names),
	COL(exchange_rec, dns_ms), COL(exchange_rec, connect_ms),
	COL(exchange_rec, tls_ms), COL(exchange_rec, ttfb_ms),
	COL(exchange_rec, total_ms), COL(exchange_rec, request_ack_ms),
	ECOL(exchange_rec, ack_pattern, run_ack_pattern_names),
	COL(exchange_rec, ttfb_wire_ms),
	ECOL(exchange_rec, ttfb_wire_quality, run_quality_names),
	COL(exchange_rec, think_ms),
	ECOL(exchange_rec, think_quality, run_quality_names),
	COL(exchange_rec, transfer_ms), COL(exchange_rec, goodput_kbps),
	COL(exchange_rec, server_delayed_ack),
	COL(exchange_rec, rtt_ms), COL(exchange_rec, request_sent_ms),
};

static const struct store_col finding_v[] = {
	COL(finding_rec, code), COL(finding_rec, packets),
	COL(finding_rec, detail),
};

static const struct store_col pcap_v[] = {
	COL(pcap_rec, path), COL(pcap_rec, bytes), COL(pcap_rec, sha256),
	COL(pcap_rec, created_at), COL(pcap_rec, expires_at),
	COL(pcap_rec, pruned), COL(pcap_rec, pruned_at),
	COL(pcap_rec, reason), COL(pcap_rec, keylog),
};

static const struct store_col thresh_v[] = {
	COL(thresh_rec, threshold), COL(thresh_rec, metric),
	COL(thresh_rec, step), COL(thresh_rec, value),
	COL(thresh_rec, limit_value), COL(thresh_rec, baseline_n),
	COL(thresh_rec, met), COL(thresh_rec, breached), COL(thresh_rec, note),
};

const struct store_cols store__run_cols = { run_v, NCOLS(run_v) };
const struct store_cols store__step_cols = { step_v, NCOLS(step_v) };
const struct store_cols store__cert_cols = { cert_v, NCOLS(cert_v) };
const struct store_cols store__conn_cols = { conn_v, NCOLS(conn_v) };
const struct store_cols store__exchange_cols = { exchange_v,
						  NCOLS(exchange_v) };
const struct store_cols store__finding_cols = { finding_v, NCOLS(finding_v) };
const struct store_cols store__pcap_cols = { pcap_v, NCOLS(pcap_v) };
const struct store_cols store__thresh_cols = { thresh_v, NCOLS(thresh_v) };
