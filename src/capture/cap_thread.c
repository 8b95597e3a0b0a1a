/*
 * cap_thread.c: the pcap handles and the thread that reads them into the
 * ring (contract in capture.h).
 *
 * One thread for all handles, poll()ing their selectable fds and an
 * eventfd: the traffic of one run is small enough for one core, and a
 * single writer is what lets the ring's readers go without a lock
 * (cap_ring.h).  The poll has a 100 ms timeout and every handle is read
 * after a timeout too, so a handle whose fd misses a wakeup (libpcap's
 * TPACKET_V3 blocks) is never left for long.
 *
 * Locks: capture.mu serialises the control calls (filter, new interface,
 * stop) against each other; each handle's mu serialises every pcap call
 * on that pcap_t, since libpcap handles are not thread-safe.  Order: mu
 * before a handle's mu.  The thread takes handle mutexes only, so
 * capture_stop can join it while holding capture.mu.  The handle table
 * is a fixed array published by an atomic count: an entry, once there,
 * never moves, so the thread and capture_iface() read it without mu.
 */
#include "capture/capture.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <pcap/pcap.h>

#include "capture/cap_ring.h"
#include "util/xalloc.h"

#define CAP_DRAIN_ROUNDS 16 /* reads per handle at stop, while it yields */

struct cap_handle {
	pcap_t *p;
	pthread_mutex_t mu;         /* every pcap call on p */
	struct cap_iface info;
	uint16_t idx;
	bool nano;                  /* timestamps are ns (else us) */
	int fd;                     /* selectable fd, -1 if none */
	bool dead;                  /* pcap_dispatch failed (thread only) */
	uint64_t last_drops;        /* under mu */
	struct capture *c;
};

struct capture {
	struct cap_ring ring;
	pthread_mutex_t mu;         /* control calls; see the top */
	struct cap_handle *h[CAPTURE_MAX_IFACES];
	_Atomic size_t n_h;
	char *filter;               /* under mu */
	pthread_t thread;
	bool started, joined;       /* under mu */
	atomic_bool stop;
	atomic_bool frozen;         /* stopped: drops as of the stop */
	int wake_fd;
	/* CLOCK_MONOTONIC ns at the start of the last read pass that read
	 * every handle (capture_sync) */
	_Atomic uint64_t pass_ns;
};

static uint64_t mono_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static void on_frame(u_char *user, const struct pcap_pkthdr *hdr,
		     const u_char *bytes)
{
	struct cap_handle *h = (struct cap_handle *)user;
	uint64_t sub = (uint64_t)hdr->ts.tv_usec;
	uint64_t ts = (uint64_t)hdr->ts.tv_sec * 1000000000u +
		      (h->nano ? sub : sub * 1000u);

	/* PE_NOMEM is counted as lost by the ring: nothing more to do */
	(void)cap_ring_append(&h->c->ring, ts, bytes, hdr->caplen, hdr->len,
			      h->idx, h->info.linktype);
}

static int set_filter_locked(pcap_t *p, const char *expr, const char *name,
			     struct errbuf *err)
{
	struct bpf_program prog;

	if (pcap_compile(p, &prog, expr, 1, PCAP_NETMASK_UNKNOWN) < 0)
		return errbuf_set(err, PE_INVAL, "filter on %s: %s", name,
				  pcap_geterr(p));
	int rc = pcap_setfilter(p, &prog);
	pcap_freecode(&prog);
	if (rc < 0)
		return errbuf_set(err, PE_IO, "setfilter on %s: %s", name,
				  pcap_geterr(p));
	return 0;
}

static int activate_error(pcap_t *p, int rc, const char *name,
			  struct errbuf *err)
{
	const char *msg = pcap_geterr(p);
	bool perm = rc == PCAP_ERROR_PERM_DENIED ||
		    strstr(msg, "Operation not permitted") ||
		    strstr(msg, "Permission denied");

	if (!*msg)
		msg = pcap_statustostr(rc);
	if (perm)
		return errbuf_set(err, PE_PERM, "capture on %s: permission "
				  "denied (%s): run as root or give the binary "
				  "cap_net_raw", name, msg);
	return errbuf_set(err, PE_IO, "capture on %s: %s", name, msg);
}

/*
 * Without it, the kernel stamps a frame when it copies it into each
 * packet socket's ring, one tap after the other: our stamp would depend
 * on how many captures (a tcpdump, another probe) come first and how long
 * their filters take.  A socket option that asks for receive timestamps
 * turns on the kernel's stamping of every frame where it enters the stack
 * (netif_receive, dev_queue_xmit_nit), once, shared by all taps: closer to
 * the wire and the same in every capture of the host (measured: UDP on lo
 * to the nanosecond with a tcpdump beside us).  Not for TCP on lo: its
 * skbs carry a monotonic departure time that the kernel will not reuse,
 * so each tap stamps its own copy (measured: 1-15 us apart).  The option
 * is host-wide while our socket lives (as with chrony or ptp4l) and costs
 * one clock read per frame.  A failure only costs that accuracy.
 */
static void stamp_at_entry(pcap_t *p)
{
	int on = 1;
	(void)setsockopt(pcap_fileno(p), SOL_SOCKET, SO_TIMESTAMPNS, &on,
			 sizeof(on));
}

/* Open and publish a handle on name (under c->mu, or before any thread). */
static int open_handle(struct capture *c, const char *name,
		       struct errbuf *err)
{
	char ebuf[PCAP_ERRBUF_SIZE] = "";
	size_t n = atomic_load(&c->n_h);
	struct cap_handle *h = NULL;
	pcap_t *p = NULL;
	int rc, ret;

	if (n >= CAPTURE_MAX_IFACES)
		return errbuf_set(err, PE_LIMIT, "%s: at most %d interfaces",
				  name, CAPTURE_MAX_IFACES);
	if (strlen(name) >= IFNAMSIZ)
		return errbuf_set(err, PE_INVAL, "%s: interface name too long",
				  name);
	if (!(p = pcap_create(name, ebuf)))
		return errbuf_set(err, PE_IO, "capture on %s: %s", name, ebuf);
	if (pcap_set_snaplen(p, CAPTURE_SNAPLEN) ||
	    pcap_set_timeout(p, CAPTURE_BLOCK_MS) ||
	    pcap_set_tstamp_precision(p, PCAP_TSTAMP_PRECISION_NANO) ||
	    pcap_set_buffer_size(p, CAPTURE_BUFFER)) {
		ret = errbuf_set(err, PE_IO, "capture on %s: %s", name,
				 pcap_geterr(p));
		goto fail;
	}
	if ((rc = pcap_activate(p)) < 0) {
		ret = activate_error(p, rc, name, err);
		goto fail;
	}
	stamp_at_entry(p);
	if (c->filter && (ret = set_filter_locked(p, c->filter, name, err)))
		goto fail;
	if (pcap_setnonblock(p, 1, ebuf) < 0) {
		ret = errbuf_set(err, PE_IO, "capture on %s: %s", name, ebuf);
		goto fail;
	}
	if (!(h = calloc(1, sizeof(*h)))) {
		ret = errbuf_set(err, PE_NOMEM, "out of memory");
		goto fail;
	}
	if (pthread_mutex_init(&h->mu, NULL)) {
		free(h);
		ret = errbuf_set(err, PE_NOMEM, "out of memory");
		goto fail;
	}
	h->p = p;
	snprintf(h->info.name, sizeof(h->info.name), "%s", name);
	h->info.linktype = pcap_datalink(p);
	h->idx = (uint16_t)n;
	h->nano = pcap_get_tstamp_precision(p) == PCAP_TSTAMP_PRECISION_NANO;
	h->fd = pcap_get_selectable_fd(p);
	h->c = c;
	c->h[n] = h;
	atomic_store_explicit(&c->n_h, n + 1, memory_order_release);
	return 0;
fail:
	pcap_close(p);
	return ret;
}

static bool has_iface(const struct capture *c, const char *name)
{
	size_t n = atomic_load(&c->n_h);
	for (size_t i = 0; i < n; i++)
		if (!strcmp(c->h[i]->info.name, name))
			return true;
	return false;
}

/* Interfaces to capture on when none were given (capture.h). */
static int choose_ifaces(struct capture *c, const struct capture_opts *o,
			 struct errbuf *err)
{
	static const struct dec_addr defaults[] = {
		{ 4, { 192, 0, 2, 1 } },                     /* TEST-NET-1 */
		{ 6, { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 } }, /* 2001:db8::1 */
	};
	struct errbuf why = { "no destination and no default route" };
	size_t n = o->n_dests + 2;

	for (size_t i = 0; i < n; i++) {
		const struct dec_addr *a = i < o->n_dests ? &o->dests[i] :
					   &defaults[i - o->n_dests];
		char name[IFNAMSIZ];
		int ret;
		if (cap_iface_for(a, name, &why) < 0 || has_iface(c, name))
			continue; /* no route: nothing of ours goes there */
		if ((ret = open_handle(c, name, err)))
			return ret;
	}
	if (!atomic_load(&c->n_h))
		return errbuf_set(err, PE_NOTFOUND, "no interface to capture "
				  "on: %s", why.msg);
	return 0;
}

struct capture *capture_open(const struct capture_opts *o,
			     struct errbuf *err)
{
	struct capture *c = calloc(1, sizeof(*c));
	int ret;

	if (!c) {
		errbuf_set(err, PE_NOMEM, "out of memory");
		return NULL;
	}
	c->wake_fd = -1;
	atomic_init(&c->n_h, 0);
	atomic_init(&c->stop, false);
	atomic_init(&c->frozen, false);
	if (pthread_mutex_init(&c->mu, NULL)) {
		free(c);
		errbuf_set(err, PE_NOMEM, "out of memory");
		return NULL;
	}
	if (cap_ring_init(&c->ring, o->ring_bytes, err) < 0)
		goto fail;
	if ((c->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0) {
		errbuf_set(err, PE_IO, "eventfd: %s", strerror(errno));
		goto fail;
	}
	if (o->filter && !(c->filter = xstrdup(o->filter))) {
		errbuf_set(err, PE_NOMEM, "out of memory");
		goto fail;
	}
	if (o->n_ifaces) {
		for (size_t i = 0; i < o->n_ifaces; i++)
			if (!has_iface(c, o->ifaces[i]) &&
			    (ret = open_handle(c, o->ifaces[i], err)))
				goto fail;
	} else if ((ret = choose_ifaces(c, o, err))) {
		goto fail;
	}
	return c;
fail:
	capture_free(c);
	return NULL;
}

/* One non-blocking read of h; pcap_dispatch's return. */
static int read_handle(struct cap_handle *h)
{
	int rc;

	if (h->dead)
		return 0;
	pthread_mutex_lock(&h->mu);
	rc = pcap_dispatch(h->p, -1, on_frame, (u_char *)h);
	pthread_mutex_unlock(&h->mu);
	if (rc == PCAP_ERROR)
		h->dead = true; /* e.g. the interface went away */
	return rc;
}

static void *cap_thread_main(void *arg)
{
	struct capture *c = arg;
	struct pollfd pfd[CAPTURE_MAX_IFACES + 1];
	size_t n;

	while (!atomic_load(&c->stop)) {
		n = atomic_load_explicit(&c->n_h, memory_order_acquire);
		for (size_t i = 0; i < n; i++) {
			pfd[i].fd = c->h[i]->dead ? -1 : c->h[i]->fd;
			pfd[i].events = POLLIN;
			pfd[i].revents = 0;
		}
		pfd[n].fd = c->wake_fd;
		pfd[n].events = POLLIN;
		pfd[n].revents = 0;
		int r = poll(pfd, n + 1, CAPTURE_POLL_MS);
		uint64_t t = mono_ns();
		bool woken = false;
		if (r < 0 && errno != EINTR)
			r = 0; /* cannot happen with valid fds: read all */
		if (pfd[n].revents & POLLIN) {
			uint64_t v;
			(void)!read(c->wake_fd, &v, sizeof(v));
			woken = true; /* a filter, an interface or a sync */
		}
		for (size_t i = 0; i < n; i++)
			if (r <= 0 || woken || pfd[i].revents || pfd[i].fd < 0)
				read_handle(c->h[i]);
		if (r <= 0 || woken)
			atomic_store(&c->pass_ns, t);
	}
	/* the last drain: whatever the kernel holds now */
	n = atomic_load_explicit(&c->n_h, memory_order_acquire);
	for (size_t i = 0; i < n; i++)
		for (int k = 0; k < CAP_DRAIN_ROUNDS; k++)
			if (read_handle(c->h[i]) <= 0)
				break;
	return NULL;
}

int capture_start(struct capture *c, struct errbuf *err)
{
	int ret = 0, e;

	pthread_mutex_lock(&c->mu);
	if (c->started) {
		ret = errbuf_set(err, PE_INVAL, "capture already started");
	} else if ((e = pthread_create(&c->thread, NULL, cap_thread_main, c))) {
		ret = errbuf_set(err, PE_IO, "capture thread: %s", strerror(e));
	} else {
		c->started = true;
	}
	pthread_mutex_unlock(&c->mu);
	return ret;
}

static void wake(struct capture *c)
{
	uint64_t one = 1;
	(void)!write(c->wake_fd, &one, sizeof(one));
}

int capture_sync(struct capture *c, uint64_t timeout_ns)
{
	/* a frame the kernel took before now is in a block retired at most
	 * CAPTURE_BLOCK_MS later; a pass that starts after that reads it */
	uint64_t now = mono_ns();
	uint64_t target = now + (CAPTURE_BLOCK_MS + 1) * 1000000u;
	uint64_t until = now + timeout_ns;
	if (!c->started)
		return 0;
	struct timespec nap = { 0, 250000 };
	while (atomic_load(&c->pass_ns) < target) {
		uint64_t t = mono_ns();
		if (t >= until)
			return PE_BUSY;
		if (t >= target)
			wake(c);
		nanosleep(&nap, NULL);
	}
	return 0;
}

int capture_set_filter(struct capture *c, const char *expr,
		       struct errbuf *err)
{
	struct bpf_program prog[CAPTURE_MAX_IFACES];
	char *copy = xstrdup(expr);
	size_t n, done = 0;
	int ret = 0;

	if (!copy)
		return errbuf_set(err, PE_NOMEM, "out of memory");
	pthread_mutex_lock(&c->mu);
	n = atomic_load(&c->n_h);
	/* compile everywhere first, so a bad expression changes nothing */
	for (; done < n; done++) {
		struct cap_handle *h = c->h[done];
		pthread_mutex_lock(&h->mu);
		int rc = pcap_compile(h->p, &prog[done], expr, 1,
				      PCAP_NETMASK_UNKNOWN);
		if (rc < 0)
			ret = errbuf_set(err, PE_INVAL, "filter on %s: %s",
					 h->info.name, pcap_geterr(h->p));
		pthread_mutex_unlock(&h->mu);
		if (ret)
			goto out;
	}
	for (size_t i = 0; i < n; i++) {
		struct cap_handle *h = c->h[i];
		pthread_mutex_lock(&h->mu);
		if (pcap_setfilter(h->p, &prog[i]) < 0 && !ret)
			ret = errbuf_set(err, PE_IO, "setfilter on %s: %s",
					 h->info.name, pcap_geterr(h->p));
		pthread_mutex_unlock(&h->mu);
	}
	free(c->filter);
	c->filter = copy;
	copy = NULL;
out:
	for (size_t i = 0; i < done; i++)
		pcap_freecode(&prog[i]);
	pthread_mutex_unlock(&c->mu);
	free(copy);
	return ret;
}

int capture_add_iface(struct capture *c, const char *name,
		      struct errbuf *err)
{
	int ret = 0;

	pthread_mutex_lock(&c->mu);
	if (!has_iface(c, name))
		ret = open_handle(c, name, err);
	pthread_mutex_unlock(&c->mu);
	if (!ret)
		wake(c); /* poll the new fd from now on */
	return ret;
}

size_t capture_count(struct capture *c)
{
	return cap_ring_count(&c->ring);
}

const struct cap_pkt *capture_get(struct capture *c, size_t i)
{
	return cap_ring_get(&c->ring, i);
}

void capture_stats(struct capture *c, struct capture_stats *out)
{
	size_t n = atomic_load(&c->n_h);

	memset(out, 0, sizeof(*out));
	out->received = atomic_load(&c->ring.received);
	out->cut = atomic_load(&c->ring.cut);
	out->lost = atomic_load(&c->ring.lost);
	for (size_t i = 0; i < n; i++) {
		struct cap_handle *h = c->h[i];
		struct pcap_stat st;
		pthread_mutex_lock(&h->mu);
		/* libpcap sums since open; keep the last good answer */
		if (!atomic_load(&c->frozen) && pcap_stats(h->p, &st) == 0)
			h->last_drops = (uint64_t)st.ps_drop + st.ps_ifdrop;
		out->dropped += h->last_drops;
		pthread_mutex_unlock(&h->mu);
	}
}

void capture_stop(struct capture *c)
{
	struct capture_stats st;

	pthread_mutex_lock(&c->mu);
	atomic_store(&c->stop, true);
	if (c->started && !c->joined) {
		wake(c);
		pthread_join(c->thread, NULL);
		c->joined = true;
		capture_stats(c, &st); /* the drops as of the stop */
		atomic_store(&c->frozen, true);
	}
	pthread_mutex_unlock(&c->mu);
}

static void *close_handle(void *arg)
{
	pcap_close(arg);
	return NULL;
}

void capture_free(struct capture *c)
{
	if (!c)
		return;
	capture_stop(c);
	size_t n = atomic_load(&c->n_h);
	/*
	 * Closing an AF_PACKET socket waits for an RCU grace period in the
	 * kernel (packet_release -> synchronize_net: 10-30 ms measured here);
	 * one thread per handle lets those waits overlap instead of adding
	 * up.  A thread that cannot start closes its handle here.
	 */
	pthread_t t[CAPTURE_MAX_IFACES];
	bool started[CAPTURE_MAX_IFACES] = { false };
	for (size_t i = 0; i < n; i++)
		started[i] = n > 1 && pthread_create(&t[i], NULL, close_handle,
						     c->h[i]->p) == 0;
	for (size_t i = 0; i < n; i++) {
		if (started[i])
			pthread_join(t[i], NULL);
		else
			pcap_close(c->h[i]->p);
		pthread_mutex_destroy(&c->h[i]->mu);
		free(c->h[i]);
	}
	cap_ring_release(&c->ring);
	if (c->wake_fd >= 0)
		close(c->wake_fd);
	pthread_mutex_destroy(&c->mu);
	free(c->filter);
	free(c);
}

size_t capture_n_ifaces(const struct capture *c)
{
	return atomic_load_explicit(&((struct capture *)c)->n_h,
				    memory_order_acquire);
}

const struct cap_iface *capture_iface(const struct capture *c, size_t i)
{
	if (i >= capture_n_ifaces(c))
		return NULL;
	return &c->h[i]->info;
}
