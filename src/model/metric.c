/* metric.c: the table behind metric.h. */
#include "model/metric.h"

#include <string.h>

static const struct metric_info metrics[M_COUNT] = {
	[M_DNS_MS] = { "dns_ms", METRIC_STEP, METRIC_UNIT_MS,
		"name resolution time (c-ares)" },
	[M_CONNECT_MS] = { "connect_ms", METRIC_STEP, METRIC_UNIT_MS,
		"TCP connect time (library)" },
	[M_TLS_MS] = { "tls_ms", METRIC_STEP, METRIC_UNIT_MS,
		"whole TLS handshake (library)" },
	[M_TTFB_MS] = { "ttfb_ms", METRIC_STEP, METRIC_UNIT_MS,
		"request sent to first response byte (library)" },
	[M_TOTAL_MS] = { "total_ms", METRIC_STEP, METRIC_UNIT_MS,
		"whole step (library)" },
	[M_RTT_MS] = { "rtt_ms", METRIC_CONNECTION, METRIC_UNIT_MS,
		"SYN to the SYN/ACK that answers it (packets)" },
	[M_TLS_SERVER_MS] = { "tls_server_ms", METRIC_CONNECTION,
		METRIC_UNIT_MS, "ClientHello to ServerHello minus rtt_ms" },
	[M_SYN_RETRANS] = { "syn_retrans", METRIC_CONNECTION,
		METRIC_UNIT_COUNT, "SYN retransmissions" },
	[M_BYTES_IN] = { "bytes_in", METRIC_CONNECTION, METRIC_UNIT_COUNT,
		"TCP payload bytes received" },
	[M_BYTES_OUT] = { "bytes_out", METRIC_CONNECTION, METRIC_UNIT_COUNT,
		"TCP payload bytes sent" },
	[M_RETRANS] = { "retrans", METRIC_CONNECTION, METRIC_UNIT_COUNT,
		"retransmitted segments (tshark semantics)" },
	[M_DUP_ACKS] = { "dup_acks", METRIC_CONNECTION, METRIC_UNIT_COUNT,
		"duplicate ACKs" },
	[M_ZERO_WINDOW] = { "zero_window", METRIC_CONNECTION,
		METRIC_UNIT_COUNT, "zero-window advertisements" },
	[M_OUT_OF_ORDER] = { "out_of_order", METRIC_CONNECTION,
		METRIC_UNIT_COUNT, "out-of-order segments" },
	[M_LOST_IN] = { "lost_in", METRIC_CONNECTION, METRIC_UNIT_COUNT,
		"peer segments lost before the capture point" },
	[M_REQUEST_ACK_MS] = { "request_ack_ms", METRIC_EXCHANGE,
		METRIC_UNIT_MS, "request's last byte to the server's ACK" },
	[M_TTFB_WIRE_MS] = { "ttfb_wire_ms", METRIC_EXCHANGE, METRIC_UNIT_MS,
		"request's last byte to the first response byte (packets)" },
	[M_THINK_MS] = { "think_ms", METRIC_EXCHANGE, METRIC_UNIT_MS,
		"ttfb_wire_ms minus rtt_ms: the server's own time" },
	[M_TRANSFER_MS] = { "transfer_ms", METRIC_EXCHANGE, METRIC_UNIT_MS,
		"first to last byte of the response on the wire" },
	[M_GOODPUT_KBPS] = { "goodput_kbps", METRIC_EXCHANGE,
		METRIC_UNIT_KBPS, "response bytes over transfer_ms" },
};

const struct metric_info *metric_info(enum metric m)
{
	return (unsigned)m < M_COUNT ? &metrics[m] : NULL;
}

int metric_by_name(const char *name)
{
	for (int i = 0; i < M_COUNT; i++)
		if (strcmp(metrics[i].name, name) == 0)
			return i;
	return -1;
}
