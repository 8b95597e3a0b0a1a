/*
 * step_loop.h: the one event loop of a `probe run` process.
 *
 * Why one loop and no thread per request: every step of every scenario
 * (c-ares queries, our own TCP connects and TLS handshakes, libcurl's
 * transfers through curl_multi_socket_action) waits on sockets and timers;
 * a single poll(2) loop serves hundreds of them at once, keeps the CPU
 * cost of the probe itself flat and negligible next to what it measures,
 * and gives deterministic ordering (no locks, no scheduler noise in the
 * timings).  --parallel N is N scenario state machines on this loop.
 *
 * Not thread-safe: everything runs on the loop's thread.  Callbacks may
 * add and remove watchers and timers, including their own.
 */
#ifndef PROBE_STEPS_STEP_LOOP_H
#define PROBE_STEPS_STEP_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

enum { STEP_LOOP_READ = 1 << 0, STEP_LOOP_WRITE = 1 << 1,
       STEP_LOOP_ERROR = 1 << 2 /* POLLERR/POLLHUP, reported only */ };

struct step_loop;
typedef void (*step_loop_io_cb)(struct step_loop *loop, int fd,
				unsigned events, void *ctx);
typedef void (*step_loop_timer_cb)(struct step_loop *loop, void *ctx);

/* A timer: embed it in the object it belongs to; zero-initialise it. */
struct step_loop_timer {
	uint64_t deadline_ns;
	step_loop_timer_cb cb;
	void *ctx;
	bool armed;
	struct step_loop_timer *next; /* the loop's list */
};

struct step_loop_watch {
	int fd;
	unsigned events;
	step_loop_io_cb cb;
	void *ctx;
};

struct step_loop {
	struct step_loop_watch *w;
	size_t n, cap;
	struct step_loop_timer *timers; /* unsorted: a run has few */
	bool stop;
};

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t step_loop_now_ns(void);

void step_loop_init(struct step_loop *loop);
void step_loop_release(struct step_loop *loop);

/*
 * Watch fd for events (STEP_LOOP_READ|WRITE), replacing an earlier watch
 * of the same fd; events 0 removes it (as step_loop_unwatch).  PE_NOMEM.
 */
int step_loop_watch(struct step_loop *loop, int fd, unsigned events,
		    step_loop_io_cb cb, void *ctx) PE_WARN_UNUSED;
void step_loop_unwatch(struct step_loop *loop, int fd);

/* (Re)arm t to fire once after delay_ns; stop disarms it. */
void step_loop_timer_start(struct step_loop *loop, struct step_loop_timer *t,
			   uint64_t delay_ns, step_loop_timer_cb cb, void *ctx);
void step_loop_timer_stop(struct step_loop *loop, struct step_loop_timer *t);

/*
 * Run until nothing is watched and no timer is armed, or step_loop_stop().
 * PE_IO when poll fails for a reason other than EINTR.
 */
int step_loop_run(struct step_loop *loop) PE_WARN_UNUSED;
void step_loop_stop(struct step_loop *loop);

#endif
