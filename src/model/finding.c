/*
 * finding.c: the finding codes of DESIGN section 6 (finding.h).
 */
#include "model/finding.h"

#include <string.h>

const char *const finding_codes[] = {
	"SYN_NO_SYNACK", "TCP_REFUSED", "RST_AFTER_HANDSHAKE",
	"RST_MIDSTREAM", "RETRANSMISSIONS", "RTO_SPIKE", "ZERO_WINDOW",
	"ICMP_UNREACHABLE", "ICMP_FRAG_NEEDED", "MTU_BLACKHOLE", "TLS_ALERT",
	"TLS_HANDSHAKE_TIMEOUT", "DNS_NO_RESPONSE", "DNS_SERVFAIL",
	"DNS_NXDOMAIN", "DNS_TRUNCATED", "SLOW_SERVER", "SLOW_NETWORK",
	"SERVER_DELAYED_ACK", "NAGLE_STALL", "HTTP_STATUS",
	"HTTP_BODY_MISMATCH", "TIMER_SKEW", "CLOCK_STEP", "CAPTURE_DROPS",
	"CAPTURE_TRUNCATED", NULL,
};

bool finding_code_known(const char *name)
{
	for (const char *const *c = finding_codes; *c; c++)
		if (strcmp(*c, name) == 0)
			return true;
	return false;
}
