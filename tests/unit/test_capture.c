/*
 * test_capture.c: the capture ring with synthetic frames (whole under the
 * soft cap, headers only past it, nothing past twice it; stable pointers
 * across chunks and index blocks; capture order; a reader thread racing
 * the writer), the interface of a loopback destination, and, as root,
 * a real capture on lo (tests/integration/0620-capture.sh does the rest).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "capture/cap_ring.h"
#include "capture/capture.h"

#define HDRS (14 + 20 + 20) /* Ethernet + IPv4 + TCP without options */

/* Ethernet/IPv4/TCP frame with payload bytes of value fill. */
static size_t frame(uint8_t *b, size_t payload, uint8_t fill)
{
	size_t ip_len = 20 + 20 + payload;
	memset(b, 0, HDRS);
	b[12] = 0x08; /* IPv4 */
	uint8_t *ip = b + 14;
	ip[0] = 0x45;
	ip[2] = (uint8_t)(ip_len >> 8);
	ip[3] = (uint8_t)ip_len;
	ip[8] = 64;
	ip[9] = 6;
	inet_pton(AF_INET, "192.0.2.1", ip + 12);
	inet_pton(AF_INET, "198.51.100.7", ip + 16);
	uint8_t *tcp = ip + 20;
	tcp[0] = 0xc0; tcp[1] = 0x01; /* 49153 */
	tcp[2] = 0x01; tcp[3] = 0xbb; /* 443 */
	tcp[7] = fill;                /* seq: tells frames apart */
	tcp[12] = 0x50;
	tcp[13] = 0x18;               /* PSH ACK */
	tcp[15] = 0xff;
	memset(b + HDRS, fill, payload);
	return HDRS + payload;
}

static void test_capture_ring_soft_and_hard_caps(void **state)
{
	(void)state;
	static uint8_t b[HDRS + 1000];
	size_t n = frame(b, 1000, 0);
	size_t whole = cap_ring_cost((uint32_t)n), hdr = cap_ring_cost(HDRS);
	struct cap_ring r;
	struct errbuf err;

	/* room for 10 whole frames, then cut ones up to twice that */
	assert_int_equal(cap_ring_init(&r, 10 * whole, &err), 0);
	size_t total = 200;
	for (size_t i = 0; i < total; i++) {
		frame(b, 1000, (uint8_t)i);
		assert_int_equal(cap_ring_append(&r, i, b, (uint32_t)n,
						 (uint32_t)n, 0, 1), 0);
	}
	size_t want_cut = (10 * whole) / hdr; /* the second soft cap's worth */
	size_t count = cap_ring_count(&r);
	assert_int_equal(count, 10 + want_cut);
	assert_int_equal(atomic_load(&r.received), total);
	assert_int_equal(atomic_load(&r.cut), want_cut);
	assert_int_equal(atomic_load(&r.lost), total - count);
	assert_true(r.used <= r.hard);
	for (size_t i = 0; i < count; i++) {
		const struct cap_pkt *p = cap_ring_get(&r, i);
		frame(b, 1000, (uint8_t)i);
		assert_int_equal(p->ts_ns, i);
		assert_int_equal(p->len, n);
		assert_int_equal(p->linktype, 1);
		assert_int_equal(p->cut, i >= 10);
		assert_int_equal(p->caplen, i < 10 ? n : HDRS);
		assert_memory_equal(p->data, b, p->caplen);
	}
	assert_null(cap_ring_get(&r, count));
	/* past the hard cap a data segment is lost, a SYN or FIN is kept
	 * (headers only) from the reserve, until the reserve is spent */
	size_t lost = atomic_load(&r.lost);
	frame(b, 1000, 7);
	assert_int_equal(cap_ring_append(&r, 900, b, (uint32_t)n,
					 (uint32_t)n, 0, 1), 0);
	assert_int_equal(atomic_load(&r.lost), lost + 1);
	b[14 + 20 + 13] = 0x02; /* SYN */
	assert_int_equal(cap_ring_append(&r, 901, b, HDRS, HDRS, 0, 1), 0);
	b[14 + 20 + 13] = 0x11; /* FIN ACK, with data */
	assert_int_equal(cap_ring_append(&r, 902, b, (uint32_t)n,
					 (uint32_t)n, 0, 1), 0);
	assert_int_equal(cap_ring_count(&r), count + 2);
	assert_int_equal(atomic_load(&r.lost), lost + 1);
	const struct cap_pkt *q = cap_ring_get(&r, count + 1);
	assert_int_equal(q->ts_ns, 902);
	assert_int_equal(q->caplen, HDRS);
	assert_true(q->cut);
	for (size_t i = 0; i < 100000; i++)
		assert_int_equal(cap_ring_append(&r, 1000 + i, b, HDRS, HDRS,
						 0, 1),
				 0);
	assert_true(r.used <= r.hard + r.reserve);
	assert_true(cap_ring_count(&r) > count + 2);
	assert_true(atomic_load(&r.lost) > lost + 1);
	cap_ring_release(&r);
}

static void test_capture_ring_cut_keeps_nonpayload_frames(void **state)
{
	(void)state;
	uint8_t b[HDRS + 600], other[1000];
	struct cap_ring r;
	struct errbuf err;

	/* a bare ACK has no payload: nothing to cut */
	size_t n = frame(b, 0, 1);
	/* not TCP/UDP (ARP here): at most CAP_RING_CUT_OTHER bytes */
	memset(other, 0xab, sizeof(other));
	other[12] = 0x08;
	other[13] = 0x06;
	assert_int_equal(cap_ring_init(&r, 4096, &err), 0);
	r.used = r.soft; /* as if full of whole frames */
	assert_int_equal(cap_ring_append(&r, 1, b, (uint32_t)n, (uint32_t)n,
					 0, 1), 0);
	assert_int_equal(cap_ring_append(&r, 2, other, sizeof(other),
					 sizeof(other), 0, 1), 0);
	n = frame(b, 600, 2);
	assert_int_equal(cap_ring_append(&r, 3, b, (uint32_t)n, (uint32_t)n,
					 0, 1), 0);
	assert_int_equal(cap_ring_count(&r), 3);
	assert_false(cap_ring_get(&r, 0)->cut);
	assert_int_equal(cap_ring_get(&r, 0)->caplen, HDRS);
	assert_true(cap_ring_get(&r, 1)->cut);
	assert_int_equal(cap_ring_get(&r, 1)->caplen, CAP_RING_CUT_OTHER);
	assert_true(cap_ring_get(&r, 2)->cut);
	assert_int_equal(cap_ring_get(&r, 2)->caplen, HDRS);
	assert_int_equal(cap_ring_get(&r, 2)->len, n);
	assert_int_equal(atomic_load(&r.cut), 2);
	cap_ring_release(&r);
}

static void test_capture_ring_pointers_stable(void **state)
{
	(void)state;
	static uint8_t b[HDRS + 1400];
	size_t n = frame(b, 1400, 7);
	struct cap_ring r;
	struct errbuf err;
	/* > 3 index blocks and > 10 arena chunks, all whole */
	size_t total = 3 * CAP_RING_BLOCK + 17;

	assert_int_equal(cap_ring_init(&r, total * cap_ring_cost(HDRS + 1400),
				       &err), 0);
	assert_int_equal(cap_ring_append(&r, 0, b, (uint32_t)n, (uint32_t)n,
					 3, 1), 0);
	const struct cap_pkt *first = cap_ring_get(&r, 0);
	const uint8_t *first_data = first->data;
	for (size_t i = 1; i < total; i++) {
		frame(b, 1400, (uint8_t)i);
		assert_int_equal(cap_ring_append(&r, i, b, (uint32_t)n,
						 (uint32_t)n, 3, 1), 0);
	}
	assert_int_equal(cap_ring_count(&r), total);
	assert_int_equal(atomic_load(&r.cut) + atomic_load(&r.lost), 0);
	assert_ptr_equal(cap_ring_get(&r, 0), first);
	assert_ptr_equal(first->data, first_data);
	frame(b, 1400, 7);
	assert_memory_equal(first->data, b, n);
	for (size_t i = 0; i < total; i++) {
		const struct cap_pkt *p = cap_ring_get(&r, i);
		assert_int_equal(p->ts_ns, i);
		assert_int_equal(p->iface, 3);
		assert_int_equal(p->data[HDRS], (uint8_t)(i ? i : 7));
	}
	cap_ring_release(&r);
}

struct race {
	struct cap_ring *r;
	size_t total;
	size_t seen_bad;
};

static void *reader(void *arg)
{
	struct race *x = arg;
	size_t checked = 0;
	while (checked < x->total) {
		size_t n = cap_ring_count(x->r);
		for (; checked < n; checked++) {
			const struct cap_pkt *p = cap_ring_get(x->r, checked);
			if (!p || p->ts_ns != checked ||
			    p->data[HDRS] != (uint8_t)checked ||
			    p->caplen != HDRS + 100)
				x->seen_bad++;
		}
	}
	return NULL;
}

static void test_capture_ring_reader_races_writer(void **state)
{
	(void)state;
	uint8_t b[HDRS + 100];
	struct cap_ring r;
	struct errbuf err;
	struct race x = { &r, 20000, 0 };
	pthread_t t;

	assert_int_equal(cap_ring_init(&r, 0, &err), 0);
	assert_int_equal(pthread_create(&t, NULL, reader, &x), 0);
	for (size_t i = 0; i < x.total; i++) {
		size_t n = frame(b, 100, (uint8_t)i);
		assert_int_equal(cap_ring_append(&r, i, b, (uint32_t)n,
						 (uint32_t)n, 0, 1), 0);
	}
	pthread_join(t, NULL);
	assert_int_equal(x.seen_bad, 0);
	cap_ring_release(&r);
}

static void test_capture_iface_for_loopback(void **state)
{
	(void)state;
	struct dec_addr a4 = { .family = 4 }, a6 = { .family = 6 };
	struct dec_addr none = { 0 };
	char name[IFNAMSIZ];
	struct errbuf err;

	inet_pton(AF_INET, "127.0.0.1", a4.a);
	assert_int_equal(cap_iface_for(&a4, name, &err), 0);
	assert_string_equal(name, "lo");
	a6.a[15] = 1;
	assert_int_equal(cap_iface_for(&a6, name, &err), 0);
	assert_string_equal(name, "lo");
	assert_int_equal(cap_iface_for(&none, name, &err), PE_INVAL);
}

/* As root: a few UDP datagrams on lo, seen once each, with ns stamps. */
static void test_capture_live_lo(void **state)
{
	(void)state;
	if (geteuid() != 0)
		skip();
	const char *ifs[] = { "lo" };
	struct capture_opts o = { .ifaces = ifs, .n_ifaces = 1,
				  .filter = "udp port 9 and host 127.0.0.9" };
	struct errbuf err = { "" };
	struct capture *c = capture_open(&o, &err);
	assert_non_null(c);
	assert_int_equal(capture_n_ifaces(c), 1);
	assert_string_equal(capture_iface(c, 0)->name, "lo");
	assert_int_equal(capture_iface(c, 0)->linktype, 1);
	assert_int_equal(capture_set_filter(c, "no such (filter", &err),
			 PE_INVAL);
	assert_int_equal(capture_add_iface(c, "lo", &err), 0);
	assert_int_equal(capture_n_ifaces(c), 1);
	assert_int_equal(capture_start(c, &err), 0);

	struct timespec t0;
	clock_gettime(CLOCK_REALTIME, &t0);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in to = { .sin_family = AF_INET,
				  .sin_port = htons(9) };
	inet_pton(AF_INET, "127.0.0.9", &to.sin_addr);
	for (int i = 0; i < 3; i++)
		sendto(fd, "probe", 5, 0, (struct sockaddr *)&to, sizeof(to));
	close(fd);
	usleep(20000);
	capture_stop(c);
	capture_stop(c); /* idempotent */

	struct capture_stats st;
	capture_stats(c, &st);
	assert_int_equal(capture_count(c), 3);
	assert_int_equal(st.received, 3);
	assert_int_equal(st.cut + st.lost, 0);
	uint64_t t0ns = (uint64_t)t0.tv_sec * 1000000000u +
			(uint64_t)t0.tv_nsec;
	for (size_t i = 0; i < 3; i++) {
		const struct cap_pkt *p = capture_get(c, i);
		assert_int_equal(p->caplen, 14 + 20 + 8 + 5);
		assert_int_equal(p->len, p->caplen);
		assert_true(p->ts_ns >= t0ns - 1000000 &&
			    p->ts_ns < t0ns + 2000000000u);
		assert_memory_equal(p->data + p->caplen - 5, "probe", 5);
	}
	capture_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_capture_ring_soft_and_hard_caps),
		cmocka_unit_test(test_capture_ring_cut_keeps_nonpayload_frames),
		cmocka_unit_test(test_capture_ring_pointers_stable),
		cmocka_unit_test(test_capture_ring_reader_races_writer),
		cmocka_unit_test(test_capture_iface_for_loopback),
		cmocka_unit_test(test_capture_live_lo),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
