/*
 * pbfwd: the test bench's delay-and-loss element, a userspace netem.
 *
 * One process per link.  It creates a TUN device in each of two network
 * namespaces and forwards every IP packet read from one to the other,
 * through a timed queue per direction that adds delay, jitter, loss,
 * reordering, a rate limit and scripted drops.
 *
 * Why it exists: the bench kernel has no sch_netem (FIELD-NOTES.md, "Test
 * bench"), so `tc qdisc ... netem` is not available, and nothing else in
 * Debian 12 delays and drops packets between two namespaces.  Hence this
 * hand-written forwarder.
 *
 * Design
 *   - TUN, not veth + AF_PACKET: a TUN device (IFF_TUN | IFF_NO_PI) hands us
 *     whole IP packets, one read() per packet, already segmented (no
 *     IFF_VNET_HDR, so no GSO/TSO: every packet is at most the device MTU),
 *     and a write() injects one packet into the namespace's stack.  No link
 *     layer, no ARP, no offload settings to turn off.  The device is
 *     created inside each namespace by setns() around open("/dev/net/tun")
 *     and TUNSETIFF (the TUN socket belongs to the namespace it was opened
 *     in), then the process returns to its own namespace.  The devices are
 *     not persistent: they vanish, with their addresses and routes, when
 *     pbfwd exits.
 *   - One thread, one ppoll(): both TUN fds are polled with a nanosecond
 *     timeout to the earliest release time of either queue, so the process
 *     sleeps until a packet arrives or one is due; no busy loop, no timer
 *     threads.  Timer slack is set to 1 ns (PR_SET_TIMERSLACK) so ppoll
 *     wakes on time instead of up to 50 us late.  The signals we handle are
 *     blocked except inside ppoll (its sigmask), so a signal is never lost
 *     between checking the flags and going to sleep.
 *   - A binary min-heap per direction keyed by (release time, arrival
 *     sequence): jitter and `reorder` let a later packet overtake an
 *     earlier one, and packets with equal release times leave in arrival
 *     order (FIFO).
 *   - Every packet byte is read through a bounds-checked cursor (STYLE.md
 *     section 6); no struct is laid over packet bytes.  Packets we cannot
 *     parse are forwarded untouched and counted as "unparsed".
 *
 * Usage
 *   pbfwd --a-ns NS_A --a-dev DEV_A --b-ns NS_B --b-dev DEV_B
 *         [--profile FILE] [--pid-file FILE] [--stats FILE] [--mtu N]
 *
 *   --a-ns NS      network namespace by name: /var/run/netns/NS, as made by
 *                  `ip netns add NS`
 *   --a-dev DEV    TUN device to create in NS_A (1..15 characters, IFNAMSIZ;
 *                  no '/', ':', '%' or white space).  Likewise --b-ns, --b-dev.
 *   --profile FILE delay/loss profile (below); re-read on SIGHUP.  Without
 *                  it pbfwd forwards with no delay and no loss.
 *   --pid-file F   written (atomically: F.tmp, then rename) once both
 *                  devices exist: the readiness signal.  Removed at exit.
 *   --stats FILE   also write the stats lines to FILE (atomically) on
 *                  SIGUSR1 and at exit.
 *   --mtu N        set both devices' MTU (68..65535) with SIOCSIFMTU from
 *                  a socket opened inside each namespace.  Without it the
 *                  TUN default, 1500, stays.  IPv6 needs an MTU >= 1280.
 *
 *   pbfwd does not set addresses, routes or link state: the caller does
 *   (`ip -n NS link set DEV up; ip -n NS addr add ... dev DEV`) after the
 *   pid file appears.
 *
 *   Direction "a2b" is every packet read from DEV_A (sent by NS_A) and
 *   written to DEV_B; "b2a" the reverse.
 *
 * Signals
 *   SIGHUP   re-read the profile.  A bad profile is reported on stderr
 *            (FILE:LINE: message) and the old one stays.  Packets already
 *            queued keep their release times; the new settings apply to
 *            packets arriving afterwards.
 *   SIGUSR1  print the stats lines (stdout, and --stats FILE) and go on.
 *   SIGTERM, SIGINT  print the stats lines, drop what is still queued
 *            (counted as pending), remove the pid file, exit 0.
 *
 *   Stats, one line per direction:
 *   a2b forwarded=N dropped=N loss=N nth=N data=N larger=N icmp=N queue=N
 *       queued_max=N bytes=N unparsed=N pending=N
 *   (printed on one line).  dropped = loss + nth + data + larger + icmp +
 *   queue; each dropped packet is counted under the first reason that
 *   applies, in the order nth, data, larger, icmp, loss, queue.
 *   forwarded and bytes count packets written to the other device;
 *   queued_max is the largest queue length seen; unparsed counts packets
 *   that were not a well-formed IPv4/IPv6 packet (forwarded anyway, still
 *   subject to delay, loss, nth, larger and queue); pending is the queue
 *   length at the time of printing.  received = forwarded + dropped +
 *   pending (+ write errors, reported on stderr at exit, never seen in
 *   practice).
 *
 * Exit status: 0 after SIGTERM/SIGINT; 1 when setup fails (no
 * /dev/net/tun, no such namespace, TUNSETIFF or MTU refused) or a device
 * fails at run time; 2 for a usage error or a bad profile at start.
 *
 * Profile
 *   `key = value` lines; `#` starts a comment; blank lines are ignored.
 *   A key prefixed `a2b.` or `b2a.` sets that direction only; unprefixed
 *   it sets both.  Later lines override earlier ones, in file order.
 *   Unknown keys and bad values are errors naming FILE:LINE.
 *
 *   delay_ms       one-way delay, milliseconds, decimal (10, 2.5); 0
 *   jitter_ms      uniform jitter: delay + U(-jitter, +jitter), clamped at
 *                  0; it can reorder packets, as real jitter does.  0
 *   loss           probability 0..1 of dropping a packet at random.  0
 *   drop_nth       comma list of 1-based ordinals of packets of this
 *                  direction to drop.  Every packet read from the device
 *                  counts, from pbfwd's start (not from the last reload),
 *                  including the kernel's own IPv6 chatter (router
 *                  solicitations, MLD reports) and packets dropped for
 *                  other reasons.  Empty value: none.
 *   drop_data      comma list of 1-based ordinals of TCP data segments
 *                  (TCP payload > 0) of this direction to drop, counted
 *                  from start over all TCP connections of the direction.
 *                  A retransmission is a new data segment in the count:
 *                  drop_data=3 drops the third data segment once and its
 *                  retransmission (the fourth or later) passes;
 *                  drop_data=3,4 drops it and, if the retransmission comes
 *                  next, that too.  For IPv4 only the first fragment has a
 *                  TCP header and is counted.  Empty value: none.
 *   drop_larger    drop every packet longer than N bytes (the IP packet as
 *                  read from the device, header included): an MTU
 *                  blackhole.  0 = off.  0
 *   drop_icmp_frag 0/1: also drop ICMPv4 type 3 code 4 (fragmentation
 *                  needed) and ICMPv6 type 2 (packet too big) passing in
 *                  this direction.  Default: 1 in both directions when
 *                  drop_larger is set in either (the ICMP a blackhole would
 *                  cause travels back the other way), else 0.
 *   reorder        probability 0..1 that a packet is held back reorder_ms
 *                  longer, so the next one overtakes it.  0
 *   reorder_ms     the extra hold for `reorder`, milliseconds.  1
 *   rate_kbps      bottleneck rate in kbit/s (1000 bit/s), integer; 0 =
 *                  unlimited.  A packet starts serialising when it arrives
 *                  or when the previous packet of the direction has
 *                  finished, whichever is later, takes bytes*8/rate, and
 *                  then gets its delay (and jitter): release = serialised
 *                  + delay.  0
 *   queue_max      packets held per direction (in flight in the delay line
 *                  included, as netem's limit); beyond: tail drop, counted
 *                  as "queue".  1..1000000.  1000
 *   seed           global (no prefix): seed of the random choices (loss,
 *                  jitter, reorder); each direction draws from its own
 *                  stream, so one direction's traffic does not change the
 *                  other's choices.  A reload re-seeds only when the seed
 *                  value changes.  1
 */

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <linux/if_tun.h>

#define PROG "pbfwd"
#define NETNS_DIR "/var/run/netns/"
#define PKT_MAX 65536	/* largest IP packet + 1: a read never cuts */
#define READ_BUDGET 256 /* packets read per fd per wakeup */
#define ORD_MAX 1024	/* ordinals per drop_nth / drop_data list */
#define IP6_EXT_DEPTH 8 /* extension headers walked, at most */

enum dir { A2B, B2A, NDIR };
static const char *const dir_name[NDIR] = {"a2b", "b2a"};

/* ---- bounds-checked packet cursor (STYLE.md section 6) ------------------ */

/*
 * A short read returns 0 and sets the sticky `trunc` flag, so a decoder reads
 * a whole header and checks once.  Lengths are compared against what is left;
 * no pointer is ever formed past `end`.
 */
struct cur {
	const uint8_t *p, *end;
	int trunc;
};

static void cur_init(struct cur *c, const uint8_t *p, size_t len)
{
	c->p = p;
	c->end = p + len;
	c->trunc = 0;
}

static size_t cur_left(const struct cur *c)
{
	return (size_t)(c->end - c->p);
}

static uint8_t cur_u8(struct cur *c)
{
	if (c->trunc || cur_left(c) < 1) {
		c->trunc = 1;
		return 0;
	}
	return *c->p++;
}

static uint16_t cur_be16(struct cur *c)
{
	uint16_t hi = cur_u8(c);

	return (uint16_t)(hi << 8 | cur_u8(c));
}

static void cur_skip(struct cur *c, size_t n)
{
	if (c->trunc || cur_left(c) < n) {
		c->trunc = 1;
		c->p = c->end;
		return;
	}
	c->p += n;
}

/* Cut the cursor to its next n bytes; truncated if fewer are left. */
static void cur_clamp(struct cur *c, size_t n)
{
	if (cur_left(c) < n) {
		c->trunc = 1;
		return;
	}
	c->end = c->p + n;
}

/* ---- packet classification ---------------------------------------------- */

enum pkt_class_flags {
	PC_UNPARSED = 1 << 0,	  /* not a well-formed IPv4/IPv6 packet */
	PC_TCP_DATA = 1 << 1,	  /* TCP segment with payload > 0 */
	PC_ICMP_TOO_BIG = 1 << 2, /* ICMPv4 3/4 or ICMPv6 2 */
};

#define IPPROTO_HOPOPTS_ 0
#define IPPROTO_TCP_ 6
#define IPPROTO_ICMP_ 1
#define IPPROTO_ROUTING_ 43
#define IPPROTO_FRAGMENT_ 44
#define IPPROTO_AH_ 51
#define IPPROTO_ICMPV6_ 58
#define IPPROTO_NONE_ 59
#define IPPROTO_DSTOPTS_ 60

/*
 * TCP (RFC 9293 section 3.1): data offset is the high nibble of byte 12, in
 * 32-bit words, at least 5.  `c` holds exactly the segment.
 */
static int classify_tcp(struct cur *c)
{
	size_t seglen = cur_left(c);
	size_t doff;

	cur_skip(c, 12);
	doff = (size_t)(cur_u8(c) >> 4) * 4;
	if (c->trunc || doff < 20 || doff > seglen)
		return PC_UNPARSED;
	return seglen > doff ? PC_TCP_DATA : 0;
}

/*
 * IPv4 (RFC 791 section 3.1):
 *   0 version/IHL, 1 TOS, 2-3 total length, 4-5 id, 6-7 flags/fragment
 *   offset, 8 TTL, 9 protocol, 10-11 checksum, 12-19 addresses, options.
 */
static int classify_ip4(const uint8_t *p, size_t len)
{
	struct cur c;
	size_t hlen, tot;
	uint16_t frag;
	uint8_t proto, type, code;

	cur_init(&c, p, len);
	hlen = (size_t)(cur_u8(&c) & 0x0f) * 4;
	cur_skip(&c, 1);
	tot = cur_be16(&c);
	cur_skip(&c, 2);
	frag = cur_be16(&c);
	cur_skip(&c, 1);
	proto = cur_u8(&c);
	if (c.trunc || hlen < 20 || tot < hlen)
		return PC_UNPARSED;
	/* The claimed length, from the start again, must all be there. */
	cur_init(&c, p, len);
	cur_clamp(&c, tot);
	cur_skip(&c, hlen);
	if (c.trunc)
		return PC_UNPARSED;
	if ((frag & 0x1fff) != 0)
		return 0; /* not the first fragment: no L4 header */
	switch (proto) {
	case IPPROTO_TCP_:
		return classify_tcp(&c);
	case IPPROTO_ICMP_:
		type = cur_u8(&c);
		code = cur_u8(&c);
		if (c.trunc)
			return PC_UNPARSED;
		return type == 3 && code == 4 ? PC_ICMP_TOO_BIG : 0;
	default:
		return 0;
	}
}

/*
 * IPv6 (RFC 8200 section 3): 0-3 version/class/label, 4-5 payload length,
 * 6 next header, 7 hop limit, 8-39 addresses.  Extension headers (section
 * 4): hop-by-hop (0), routing (43), destination options (60): next header,
 * length in 8-octet units not counting the first 8; fragment (44): 8 octets,
 * offset in the high 13 bits of bytes 2-3; AH (51, RFC 4302): length in
 * 4-octet units minus 2.
 */
static int classify_ip6(const uint8_t *p, size_t len)
{
	struct cur cc, *c = &cc;
	size_t plen, ehlen;
	uint8_t nh, type;
	uint16_t frag;
	int depth;

	cur_init(c, p, len);
	cur_skip(c, 4);
	plen = cur_be16(c);
	nh = cur_u8(c);
	cur_skip(c, 1 + 32);
	if (c->trunc || plen == 0) /* 0: jumbogram, not on a TUN link */
		return PC_UNPARSED;
	cur_clamp(c, plen);
	if (c->trunc)
		return PC_UNPARSED;
	for (depth = 0; depth <= IP6_EXT_DEPTH; depth++) {
		switch (nh) {
		case IPPROTO_TCP_:
			return classify_tcp(c);
		case IPPROTO_ICMPV6_:
			type = cur_u8(c);
			if (c->trunc)
				return PC_UNPARSED;
			return type == 2 ? PC_ICMP_TOO_BIG : 0;
		case IPPROTO_HOPOPTS_:
		case IPPROTO_ROUTING_:
		case IPPROTO_DSTOPTS_:
			nh = cur_u8(c);
			ehlen = ((size_t)cur_u8(c) + 1) * 8;
			cur_skip(c, ehlen - 2);
			break;
		case IPPROTO_AH_:
			nh = cur_u8(c);
			ehlen = ((size_t)cur_u8(c) + 2) * 4;
			cur_skip(c, ehlen - 2);
			break;
		case IPPROTO_FRAGMENT_:
			nh = cur_u8(c);
			cur_skip(c, 1);
			frag = cur_be16(c);
			cur_skip(c, 4);
			if (c->trunc)
				return PC_UNPARSED;
			if ((frag & 0xfff8) != 0)
				return 0; /* not the first fragment */
			break;
		default: /* IPPROTO_NONE_, ESP, UDP, ...: not ours */
			return 0;
		}
		if (c->trunc)
			return PC_UNPARSED;
	}
	return PC_UNPARSED; /* deeper than IP6_EXT_DEPTH */
}

static int pkt_classify(const uint8_t *p, size_t len)
{
	struct cur c;
	uint8_t v;

	cur_init(&c, p, len);
	v = cur_u8(&c);
	if (c.trunc)
		return PC_UNPARSED;
	switch (v >> 4) {
	case 4:
		return classify_ip4(p, len);
	case 6:
		return classify_ip6(p, len);
	default:
		return PC_UNPARSED;
	}
}

/* ---- profile ------------------------------------------------------------ */

struct ordlist {
	size_t n;
	uint64_t v[ORD_MAX]; /* sorted, unique */
};

struct dir_prof {
	double delay_ms, jitter_ms, loss, reorder, reorder_ms;
	uint64_t rate_kbps, queue_max, drop_larger;
	int drop_icmp_frag; /* -1: default (see drop_icmp_frag key) */
	struct ordlist nth, data;
};

struct profile {
	struct dir_prof d[NDIR];
	uint64_t seed;
};

enum key_type { K_MS, K_PROB, K_UINT, K_BOOL, K_LIST };

struct key_def {
	const char *name;
	enum key_type type;
	size_t off;	   /* in struct dir_prof */
	uint64_t min, max; /* K_UINT */
};

#define DP(f) offsetof(struct dir_prof, f)
static const struct key_def keys[] = {
    {"delay_ms", K_MS, DP(delay_ms), 0, 0},
    {"jitter_ms", K_MS, DP(jitter_ms), 0, 0},
    {"loss", K_PROB, DP(loss), 0, 0},
    {"drop_nth", K_LIST, DP(nth), 0, 0},
    {"drop_data", K_LIST, DP(data), 0, 0},
    {"drop_larger", K_UINT, DP(drop_larger), 0, 65535},
    {"drop_icmp_frag", K_BOOL, DP(drop_icmp_frag), 0, 1},
    {"reorder", K_PROB, DP(reorder), 0, 0},
    {"reorder_ms", K_MS, DP(reorder_ms), 0, 0},
    {"rate_kbps", K_UINT, DP(rate_kbps), 0, 100000000},
    {"queue_max", K_UINT, DP(queue_max), 1, 1000000},
};
#undef DP

#define MS_MAX 3600000.0 /* an hour: more is a typo */

static void profile_defaults(struct profile *pf)
{
	int d;

	memset(pf, 0, sizeof(*pf));
	pf->seed = 1;
	for (d = 0; d < NDIR; d++) {
		pf->d[d].reorder_ms = 1.0;
		pf->d[d].queue_max = 1000;
		pf->d[d].drop_icmp_frag = -1;
	}
}

/* Defaults that depend on other keys, once the whole file is read. */
static void profile_finish(struct profile *pf)
{
	int larger = pf->d[A2B].drop_larger || pf->d[B2A].drop_larger;
	int d;

	for (d = 0; d < NDIR; d++)
		if (pf->d[d].drop_icmp_frag < 0)
			pf->d[d].drop_icmp_frag = larger;
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' ||
			 e[-1] == '\n'))
		e--;
	*e = '\0';
	return s;
}

static int all_of(const char *s, const char *set)
{
	return *s != '\0' && strspn(s, set) == strlen(s);
}

/* Plain decimal: digits and at most one '.', no sign, exponent or "inf". */
static int parse_decimal(const char *s, double *out)
{
	const char *dot = strchr(s, '.');
	char *end;

	if (!all_of(s, "0123456789.") || (dot && strchr(dot + 1, '.')) ||
	    strcmp(s, ".") == 0)
		return -1;
	errno = 0;
	*out = strtod(s, &end);
	return errno != 0 || *end != '\0' ? -1 : 0;
}

static int parse_u64(const char *s, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (!all_of(s, "0123456789"))
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return -1;
	*out = v;
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* "3, 7,12" into a sorted unique list; empty: no entries. */
static int parse_list(char *s, struct ordlist *l, char *err, size_t errlen)
{
	size_t i, j;
	char *tok, *comma;

	l->n = 0;
	if (*s == '\0')
		return 0;
	for (tok = s;; tok = comma + 1) {
		uint64_t v;

		comma = strchr(tok, ',');
		if (comma)
			*comma = '\0';
		tok = trim(tok);
		if (parse_u64(tok, &v) < 0 || v == 0) {
			snprintf(err, errlen,
				 "bad ordinal '%s' (expected integers >= 1, "
				 "comma separated)",
				 tok);
			return -1;
		}
		if (l->n == ORD_MAX) {
			snprintf(err, errlen, "more than %d ordinals", ORD_MAX);
			return -1;
		}
		l->v[l->n++] = v;
		if (!comma)
			break;
	}
	qsort(l->v, l->n, sizeof(l->v[0]), cmp_u64);
	for (i = j = 0; i < l->n; i++)
		if (j == 0 || l->v[j - 1] != l->v[i])
			l->v[j++] = l->v[i];
	l->n = j;
	return 0;
}

static int ordlist_has(const struct ordlist *l, uint64_t v)
{
	return l->n > 0 &&
	       bsearch(&v, l->v, l->n, sizeof(l->v[0]), cmp_u64) != NULL;
}

/* Set `key` (without prefix) to `val` in the directions d0..d1-1. */
static int profile_set(struct profile *pf, int d0, int d1, const char *key,
		       char *val, char *err, size_t errlen)
{
	const struct key_def *k = NULL;
	double f = 0;
	uint64_t u = 0;
	struct ordlist *tmp = NULL;
	size_t i;
	int d;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strcmp(keys[i].name, key) == 0)
			k = &keys[i];
	if (!k) {
		snprintf(err, errlen, "unknown key '%s'", key);
		return -1;
	}
	switch (k->type) {
	case K_MS:
		if (parse_decimal(val, &f) < 0 || f > MS_MAX) {
			snprintf(err, errlen,
				 "bad value '%s' for %s (expected "
				 "milliseconds 0..%.0f, e.g. 10 or 2.5)",
				 val, key, MS_MAX);
			return -1;
		}
		break;
	case K_PROB:
		if (parse_decimal(val, &f) < 0 || f > 1.0) {
			snprintf(err, errlen,
				 "bad value '%s' for %s (expected a "
				 "probability 0..1)",
				 val, key);
			return -1;
		}
		break;
	case K_UINT:
	case K_BOOL:
		if (parse_u64(val, &u) < 0 || u < k->min || u > k->max) {
			snprintf(err, errlen,
				 "bad value '%s' for %s (expected an integer "
				 "%llu..%llu)",
				 val, key, (unsigned long long)k->min,
				 (unsigned long long)k->max);
			return -1;
		}
		break;
	case K_LIST:
		tmp = malloc(sizeof(*tmp));
		if (!tmp) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		if (parse_list(val, tmp, err, errlen) < 0) {
			size_t n = strlen(err);

			snprintf(err + n, errlen - n, " for %s", key);
			free(tmp);
			return -1;
		}
		break;
	}
	for (d = d0; d < d1; d++) {
		char *base = (char *)&pf->d[d] + k->off;

		switch (k->type) {
		case K_MS:
		case K_PROB:
			memcpy(base, &f, sizeof(f));
			break;
		case K_UINT:
			memcpy(base, &u, sizeof(u));
			break;
		case K_BOOL: {
			int b = (int)u;

			memcpy(base, &b, sizeof(b));
			break;
		}
		case K_LIST:
			memcpy(base, tmp, sizeof(*tmp));
			break;
		}
	}
	free(tmp);
	return 0;
}

static int profile_line(struct profile *pf, char *line, char *err,
			size_t errlen)
{
	char *hash = strchr(line, '#'), *eq, *key, *val;
	int d0 = 0, d1 = NDIR, d;

	if (hash)
		*hash = '\0';
	line = trim(line);
	if (*line == '\0')
		return 0;
	eq = strchr(line, '=');
	if (!eq) {
		snprintf(err, errlen, "expected 'key = value'");
		return -1;
	}
	*eq = '\0';
	key = trim(line);
	val = trim(eq + 1);
	for (d = 0; d < NDIR; d++) {
		size_t n = strlen(dir_name[d]);

		if (strncmp(key, dir_name[d], n) == 0 && key[n] == '.') {
			key += n + 1;
			d0 = d;
			d1 = d + 1;
			break;
		}
	}
	if (strcmp(key, "seed") == 0) {
		if (d1 - d0 != NDIR) {
			snprintf(err, errlen,
				 "seed is global: no a2b./b2a. "
				 "prefix");
			return -1;
		}
		if (parse_u64(val, &pf->seed) < 0) {
			snprintf(err, errlen,
				 "bad value '%s' for seed "
				 "(expected an integer 0..2^64-1)",
				 val);
			return -1;
		}
		return 0;
	}
	return profile_set(pf, d0, d1, key, val, err, errlen);
}

/*
 * Read FILE into *pf (defaults first).  On failure *pf is unspecified and
 * err holds "FILE:LINE: message" or "FILE: message".
 */
static int profile_load(struct profile *pf, const char *path, char *err,
			size_t errlen)
{
	FILE *f;
	char *line = NULL, msg[256];
	size_t cap = 0;
	unsigned long lineno = 0;
	int ret = 0;

	profile_defaults(pf);
	f = fopen(path, "r");
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	while (getline(&line, &cap, f) >= 0) {
		lineno++;
		if (profile_line(pf, line, msg, sizeof(msg)) < 0) {
			snprintf(err, errlen, "%s:%lu: %s", path, lineno, msg);
			ret = -1;
			goto out;
		}
	}
	if (ferror(f)) {
		snprintf(err, errlen, "%s: read error", path);
		ret = -1;
		goto out;
	}
	profile_finish(pf);
out:
	free(line);
	fclose(f);
	return ret;
}

/* ---- random numbers: splitmix64, one stream per direction --------------- */

static uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Uniform in [0, 1). */
static double rng_unit(uint64_t *s)
{
	return (double)(rng_next(s) >> 11) * (1.0 / 9007199254740992.0);
}

static void rng_seed(uint64_t *s, uint64_t seed, int dir)
{
	*s = seed;
	*s = rng_next(s) ^ (uint64_t)dir * 0xd1b54a32d192ed03ULL;
}

/* ---- timed queue: binary min-heap by (release, seq) --------------------- */

struct pkt {
	uint64_t release; /* CLOCK_MONOTONIC ns */
	uint64_t seq;	  /* arrival order: FIFO among equal releases */
	size_t len;
	uint8_t data[];
};

struct heap {
	struct pkt **v;
	size_t n, cap;
};

static int pkt_before(const struct pkt *a, const struct pkt *b)
{
	return a->release < b->release ||
	       (a->release == b->release && a->seq < b->seq);
}

static int heap_push(struct heap *h, struct pkt *p)
{
	size_t i, up;

	if (h->n == h->cap) {
		size_t ncap = h->cap ? h->cap * 2 : 64;
		struct pkt **nv = realloc(h->v, ncap * sizeof(*nv));

		if (!nv)
			return -1;
		h->v = nv;
		h->cap = ncap;
	}
	for (i = h->n++; i > 0; i = up) {
		up = (i - 1) / 2;
		if (!pkt_before(p, h->v[up]))
			break;
		h->v[i] = h->v[up];
	}
	h->v[i] = p;
	return 0;
}

static struct pkt *heap_pop(struct heap *h)
{
	struct pkt *top, *last;
	size_t i = 0, c;

	if (h->n == 0)
		return NULL;
	top = h->v[0];
	last = h->v[--h->n];
	for (;;) {
		c = 2 * i + 1;
		if (c >= h->n)
			break;
		if (c + 1 < h->n && pkt_before(h->v[c + 1], h->v[c]))
			c++;
		if (!pkt_before(h->v[c], last))
			break;
		h->v[i] = h->v[c];
		i = c;
	}
	if (h->n > 0)
		h->v[i] = last;
	return top;
}

static void heap_release(struct heap *h)
{
	size_t i;

	for (i = 0; i < h->n; i++)
		free(h->v[i]);
	free(h->v);
	h->v = NULL;
	h->n = h->cap = 0;
}

/* ---- the link ----------------------------------------------------------- */

struct dir_stats {
	uint64_t forwarded, bytes, loss, nth, data, larger, icmp, queue;
	uint64_t queued_max, unparsed, txerr;
	int last_txerr;
};

struct link {
	int fd[NDIR]; /* fd[A2B] is DEV_A: read for a2b */
	struct profile *pf;
	const char *profile_path, *stats_path, *pid_path;
	struct heap q[NDIR];
	struct dir_stats st[NDIR];
	uint64_t rng[NDIR];
	uint64_t n_pkt[NDIR], n_data[NDIR]; /* ordinals so far */
	uint64_t busy_until[NDIR];	    /* rate: serialiser free at */
	uint64_t seq;
	uint8_t buf[PKT_MAX];
};

static volatile sig_atomic_t sig_stop, sig_hup, sig_usr1;

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		sig_hup = 1;
	else if (sig == SIGUSR1)
		sig_usr1 = 1;
	else
		sig_stop = 1;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static uint64_t ms_to_ns(double ms)
{
	return ms <= 0 ? 0 : (uint64_t)(ms * 1e6 + 0.5);
}

static uint64_t dir_dropped(const struct dir_stats *s)
{
	return s->loss + s->nth + s->data + s->larger + s->icmp + s->queue;
}

static int stats_format(const struct link *l, char *out, size_t len)
{
	size_t used = 0;
	int d, n;

	for (d = 0; d < NDIR; d++) {
		const struct dir_stats *s = &l->st[d];

		n = snprintf(
		    out + used, len - used,
		    "%s forwarded=%llu dropped=%llu loss=%llu "
		    "nth=%llu data=%llu larger=%llu icmp=%llu "
		    "queue=%llu queued_max=%llu bytes=%llu "
		    "unparsed=%llu pending=%llu\n",
		    dir_name[d], (unsigned long long)s->forwarded,
		    (unsigned long long)dir_dropped(s),
		    (unsigned long long)s->loss, (unsigned long long)s->nth,
		    (unsigned long long)s->data, (unsigned long long)s->larger,
		    (unsigned long long)s->icmp, (unsigned long long)s->queue,
		    (unsigned long long)s->queued_max,
		    (unsigned long long)s->bytes,
		    (unsigned long long)s->unparsed,
		    (unsigned long long)l->q[d].n);
		if (n < 0 || (size_t)n >= len - used)
			return -1;
		used += (size_t)n;
	}
	return 0;
}

/* Write `text` to path.tmp, then rename to `path`: readers never see half. */
static int write_file_atomic(const char *path, const char *text)
{
	char tmp[PATH_MAX];
	FILE *f;
	int ok;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	f = fopen(tmp, "w");
	if (!f)
		return -1;
	ok = fputs(text, f) >= 0;
	ok = (fclose(f) == 0) && ok;
	if (!ok || rename(tmp, path) < 0) {
		int e = errno;

		unlink(tmp);
		errno = e;
		return -1;
	}
	return 0;
}

static void stats_print(const struct link *l)
{
	char text[1024];

	if (stats_format(l, text, sizeof(text)) < 0)
		return;
	fputs(text, stdout);
	fflush(stdout);
	if (l->stats_path && write_file_atomic(l->stats_path, text) < 0)
		fprintf(stderr, PROG ": %s: %s\n", l->stats_path,
			strerror(errno));
}

static void profile_reload(struct link *l)
{
	struct profile *np;
	char err[512];
	int d;

	if (!l->profile_path) {
		fprintf(stderr, PROG ": SIGHUP: no --profile to re-read\n");
		return;
	}
	np = malloc(sizeof(*np));
	if (!np) {
		fputs(PROG ": SIGHUP: out of memory; old profile kept\n",
		      stderr);
		return;
	}
	if (profile_load(np, l->profile_path, err, sizeof(err)) < 0) {
		fprintf(stderr, PROG ": %s; old profile kept\n", err);
		free(np);
		return;
	}
	if (np->seed != l->pf->seed)
		for (d = 0; d < NDIR; d++)
			rng_seed(&l->rng[d], np->seed, d);
	free(l->pf);
	l->pf = np;
	fprintf(stderr, PROG ": %s reloaded\n", l->profile_path);
}

/* One packet of direction d arrived at `now`: drop it or queue it. */
static void link_arrive(struct link *l, int d, const uint8_t *data, size_t len,
			uint64_t now)
{
	const struct dir_prof *p = &l->pf->d[d];
	struct dir_stats *s = &l->st[d];
	uint64_t *rng = &l->rng[d];
	uint64_t start, release;
	double delay;
	struct pkt *pk;
	int cls = pkt_classify(data, len);

	l->n_pkt[d]++;
	if (cls & PC_UNPARSED)
		s->unparsed++;
	if (cls & PC_TCP_DATA)
		l->n_data[d]++;

	if (ordlist_has(&p->nth, l->n_pkt[d])) {
		s->nth++;
		return;
	}
	if ((cls & PC_TCP_DATA) && ordlist_has(&p->data, l->n_data[d])) {
		s->data++;
		return;
	}
	if (p->drop_larger && len > p->drop_larger) {
		s->larger++;
		return;
	}
	if (p->drop_icmp_frag && (cls & PC_ICMP_TOO_BIG)) {
		s->icmp++;
		return;
	}
	if (p->loss > 0 && rng_unit(rng) < p->loss) {
		s->loss++;
		return;
	}
	if (l->q[d].n >= p->queue_max) {
		s->queue++;
		return;
	}

	start = now;
	if (p->rate_kbps) {
		if (l->busy_until[d] > start)
			start = l->busy_until[d];
		start += (uint64_t)len * 8000000ULL / p->rate_kbps;
		l->busy_until[d] = start;
	}
	delay = p->delay_ms;
	if (p->jitter_ms > 0)
		delay += (2.0 * rng_unit(rng) - 1.0) * p->jitter_ms;
	if (p->reorder > 0 && rng_unit(rng) < p->reorder)
		delay += p->reorder_ms;
	release = start + ms_to_ns(delay);

	pk = malloc(sizeof(*pk) + len);
	if (pk) {
		memcpy(pk->data, data, len);
		pk->release = release;
		pk->seq = l->seq++;
		pk->len = len;
	}
	if (!pk || heap_push(&l->q[d], pk) < 0) {
		free(pk);
		s->queue++; /* out of memory: as good as a full queue */
		return;
	}
	if (l->q[d].n > s->queued_max)
		s->queued_max = l->q[d].n;
}

/* Write every packet due by `now`.  Direction d goes out on the other fd. */
static void link_release(struct link *l, uint64_t now)
{
	int d;

	for (d = 0; d < NDIR; d++) {
		struct heap *h = &l->q[d];
		int out = l->fd[d == A2B ? B2A : A2B];

		while (h->n > 0 && h->v[0]->release <= now) {
			struct pkt *pk = heap_pop(h);
			ssize_t w = write(out, pk->data, pk->len);

			if (w == (ssize_t)pk->len) {
				l->st[d].forwarded++;
				l->st[d].bytes += pk->len;
			} else {
				l->st[d].txerr++;
				l->st[d].last_txerr = w < 0 ? errno : EIO;
			}
			free(pk);
		}
	}
}

/* Read what is waiting on fd[d]; -1 with a message on a device failure. */
static int link_read(struct link *l, int d)
{
	int i;

	for (i = 0; i < READ_BUDGET; i++) {
		ssize_t r = read(l->fd[d], l->buf, sizeof(l->buf));

		if (r < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return 0;
			fprintf(stderr, PROG ": reading %s device: %s\n",
				d == A2B ? "a" : "b", strerror(errno));
			return -1;
		}
		link_arrive(l, d, l->buf, (size_t)r, now_ns());
	}
	return 0;
}

static int link_run(struct link *l, const sigset_t *waitmask)
{
	struct pollfd pfd[NDIR];
	int d;

	for (d = 0; d < NDIR; d++) {
		pfd[d].fd = l->fd[d];
		pfd[d].events = POLLIN;
	}
	for (;;) {
		struct timespec ts, *tsp = NULL;
		uint64_t now, next = UINT64_MAX;
		int n;

		if (sig_stop)
			return 0;
		if (sig_hup) {
			sig_hup = 0;
			profile_reload(l);
		}
		if (sig_usr1) {
			sig_usr1 = 0;
			stats_print(l);
		}
		now = now_ns();
		link_release(l, now);
		for (d = 0; d < NDIR; d++)
			if (l->q[d].n > 0 && l->q[d].v[0]->release < next)
				next = l->q[d].v[0]->release;
		if (next != UINT64_MAX) {
			uint64_t wait = next > now ? next - now : 0;

			ts.tv_sec = (time_t)(wait / 1000000000ULL);
			ts.tv_nsec = (long)(wait % 1000000000ULL);
			tsp = &ts;
		}
		n = ppoll(pfd, NDIR, tsp, waitmask);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, PROG ": ppoll: %s\n", strerror(errno));
			return -1;
		}
		for (d = 0; d < NDIR; d++) {
			if (pfd[d].revents & (POLLERR | POLLHUP | POLLNVAL)) {
				fprintf(stderr, PROG ": %s device failed\n",
					d == A2B ? "a" : "b");
				return -1;
			}
			if ((pfd[d].revents & POLLIN) && link_read(l, d) < 0)
				return -1;
		}
	}
}

/* ---- setup -------------------------------------------------------------- */

static int valid_ifname(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n < IFNAMSIZ && strcmp(s, ".") != 0 &&
	       strcmp(s, "..") != 0 && strpbrk(s, "/:% \t\n") == NULL;
}

static int valid_nsname(const char *s)
{
	return *s != '\0' && strlen(s) <= NAME_MAX && strchr(s, '/') == NULL &&
	       strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
}

/*
 * Create TUN device `dev` inside namespace `ns` and return its fd, or -1
 * with a message printed.  `home` is our own namespace, restored always.
 */
static int tun_create_in(int home, const char *ns, const char *dev, int mtu)
{
	char path[PATH_MAX];
	struct ifreq ifr;
	int nsfd, fd = -1, sk;

	snprintf(path, sizeof(path), NETNS_DIR "%s", ns);
	nsfd = open(path, O_RDONLY | O_CLOEXEC);
	if (nsfd < 0) {
		fprintf(stderr, PROG ": network namespace '%s': %s: %s%s\n", ns,
			path, strerror(errno),
			errno == ENOENT ? " (create it with ip netns add)"
					: "");
		return -1;
	}
	if (setns(nsfd, CLONE_NEWNET) < 0) {
		fprintf(stderr, PROG ": setns %s: %s\n", path, strerror(errno));
		close(nsfd);
		return -1;
	}
	close(nsfd);

	fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, PROG ": /dev/net/tun: %s%s\n", strerror(errno),
			errno == ENOENT ? " (no TUN support: modprobe tun)"
					: "");
		goto back;
	}
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
	memcpy(ifr.ifr_name, dev, strlen(dev) + 1);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		fprintf(stderr, PROG ": TUNSETIFF %s in %s: %s%s\n", dev, ns,
			strerror(errno),
			errno == EBUSY ? " (device in use by another process)"
			: errno == EINVAL ? " (a non-TUN device has that name?)"
					  : "");
		close(fd);
		fd = -1;
		goto back;
	}
	if (mtu > 0) {
		sk = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		ifr.ifr_mtu = mtu;
		if (sk < 0 || ioctl(sk, SIOCSIFMTU, &ifr) < 0) {
			fprintf(stderr, PROG ": MTU %d on %s in %s: %s\n", mtu,
				dev, ns, strerror(errno));
			close(fd);
			fd = -1;
		}
		if (sk >= 0)
			close(sk);
	}
back:
	if (setns(home, CLONE_NEWNET) < 0) {
		/* Staying in the wrong namespace would be worse than dying. */
		fprintf(stderr, PROG ": setns back: %s\n", strerror(errno));
		exit(1);
	}
	return fd;
}

static void usage(FILE *f)
{
	fputs("usage: " PROG " --a-ns NS_A --a-dev DEV_A --b-ns NS_B "
	      "--b-dev DEV_B\n"
	      "             [--profile FILE] [--pid-file FILE] "
	      "[--stats FILE] [--mtu N]\n"
	      "Forwards IP packets between TUN devices DEV_A (in NS_A) and "
	      "DEV_B (in NS_B)\n"
	      "with the delay and loss of the profile.  SIGHUP re-reads the "
	      "profile,\n"
	      "SIGUSR1 prints stats, SIGTERM/SIGINT print stats and exit.  "
	      "Profile keys\n"
	      "(prefix a2b. or b2a. for one direction): delay_ms jitter_ms "
	      "loss drop_nth\n"
	      "drop_data drop_larger drop_icmp_frag reorder reorder_ms "
	      "rate_kbps queue_max;\n"
	      "global: seed.  See the opening comment of "
	      "tests/tools/pbfwd.c.\n",
	      f);
}

int main(int argc, char **argv)
{
	enum {
		OPT_ANS = 1,
		OPT_ADEV,
		OPT_BNS,
		OPT_BDEV,
		OPT_PROFILE,
		OPT_PID,
		OPT_STATS,
		OPT_MTU,
		OPT_HELP
	};
	static const struct option opts[] = {
	    {"a-ns", required_argument, NULL, OPT_ANS},
	    {"a-dev", required_argument, NULL, OPT_ADEV},
	    {"b-ns", required_argument, NULL, OPT_BNS},
	    {"b-dev", required_argument, NULL, OPT_BDEV},
	    {"profile", required_argument, NULL, OPT_PROFILE},
	    {"pid-file", required_argument, NULL, OPT_PID},
	    {"stats", required_argument, NULL, OPT_STATS},
	    {"mtu", required_argument, NULL, OPT_MTU},
	    {"help", no_argument, NULL, OPT_HELP},
	    {NULL, 0, NULL, 0},
	};
	const char *ns[NDIR] = {NULL, NULL}, *dev[NDIR] = {NULL, NULL};
	static struct link l; /* 64 KiB buffer: not on the stack */
	struct sigaction sa;
	sigset_t block, waitmask;
	uint64_t mtu64 = 0;
	char err[512], pidtext[32];
	int opt, d, home, ret = 1, mtu = 0;

	l.fd[A2B] = l.fd[B2A] = -1;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case OPT_ANS:
			ns[A2B] = optarg;
			break;
		case OPT_ADEV:
			dev[A2B] = optarg;
			break;
		case OPT_BNS:
			ns[B2A] = optarg;
			break;
		case OPT_BDEV:
			dev[B2A] = optarg;
			break;
		case OPT_PROFILE:
			l.profile_path = optarg;
			break;
		case OPT_PID:
			l.pid_path = optarg;
			break;
		case OPT_STATS:
			l.stats_path = optarg;
			break;
		case OPT_MTU:
			if (parse_u64(optarg, &mtu64) < 0 || mtu64 < 68 ||
			    mtu64 > 65535) {
				fprintf(stderr,
					PROG ": --mtu: expected "
					     "68..65535, got '%s'\n",
					optarg);
				return 2;
			}
			mtu = (int)mtu64;
			break;
		case OPT_HELP:
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc || !ns[A2B] || !dev[A2B] || !ns[B2A] || !dev[B2A]) {
		fprintf(stderr, PROG ": --a-ns, --a-dev, --b-ns and --b-dev "
				     "are required; no other arguments\n");
		usage(stderr);
		return 2;
	}
	for (d = 0; d < NDIR; d++) {
		if (!valid_nsname(ns[d])) {
			fprintf(stderr, PROG ": bad namespace name '%s'\n",
				ns[d]);
			return 2;
		}
		if (!valid_ifname(dev[d])) {
			fprintf(stderr,
				PROG
				": bad device name '%s' (1..%d "
				"characters, no '/', ':', '%%' or spaces)\n",
				dev[d], IFNAMSIZ - 1);
			return 2;
		}
	}
	if (strcmp(ns[A2B], ns[B2A]) == 0 && strcmp(dev[A2B], dev[B2A]) == 0) {
		fprintf(stderr, PROG ": both sides are %s in %s\n", dev[A2B],
			ns[A2B]);
		return 2;
	}

	l.pf = malloc(sizeof(*l.pf));
	if (!l.pf) {
		fprintf(stderr, PROG ": out of memory\n");
		return 1;
	}
	if (l.profile_path) {
		if (profile_load(l.pf, l.profile_path, err, sizeof(err)) < 0) {
			fprintf(stderr, PROG ": %s\n", err);
			free(l.pf);
			return 2;
		}
	} else {
		profile_defaults(l.pf);
		profile_finish(l.pf);
	}
	for (d = 0; d < NDIR; d++)
		rng_seed(&l.rng[d], l.pf->seed, d);

	/*
	 * Handled signals stay blocked except inside ppoll(), which unblocks
	 * them atomically: a flag set by a handler is always seen before we
	 * sleep again.  Installed before setup so that an early SIGTERM is
	 * held, not fatal, and honoured once the loop starts.
	 */
	sigemptyset(&block);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGUSR1);
	sigprocmask(SIG_BLOCK, &block, &waitmask);
	sigdelset(&waitmask, SIGHUP);
	sigdelset(&waitmask, SIGINT);
	sigdelset(&waitmask, SIGTERM);
	sigdelset(&waitmask, SIGUSR1);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGINT, &sa, NULL); /* bash ignores it for & jobs */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);

	/* ppoll should wake on time: default slack is 50 us. */
	prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);

	home = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (home < 0) {
		fprintf(stderr, PROG ": /proc/self/ns/net: %s\n",
			strerror(errno));
		goto out;
	}
	for (d = 0; d < NDIR; d++) {
		l.fd[d] = tun_create_in(home, ns[d], dev[d], mtu);
		if (l.fd[d] < 0)
			break;
	}
	close(home);
	if (d < NDIR)
		goto out;

	if (l.pid_path) {
		snprintf(pidtext, sizeof(pidtext), "%ld\n", (long)getpid());
		if (write_file_atomic(l.pid_path, pidtext) < 0) {
			fprintf(stderr, PROG ": %s: %s\n", l.pid_path,
				strerror(errno));
			goto out;
		}
	}

	if (link_run(&l, &waitmask) == 0)
		ret = 0;
	stats_print(&l);
	for (d = 0; d < NDIR; d++)
		if (l.st[d].txerr)
			fprintf(stderr,
				PROG ": %s: %llu packets not written "
				     "(last error: %s)\n",
				dir_name[d], (unsigned long long)l.st[d].txerr,
				strerror(l.st[d].last_txerr));
	if (l.pid_path)
		unlink(l.pid_path);
out:
	for (d = 0; d < NDIR; d++) {
		heap_release(&l.q[d]);
		if (l.fd[d] >= 0)
			close(l.fd[d]);
	}
	free(l.pf);
	return ret;
}
