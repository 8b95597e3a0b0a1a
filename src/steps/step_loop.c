/*
 * step_loop.c: poll(2) over a small array of watched fds plus a list of
 * timers (see step_loop.h for why one loop).  poll, not epoll: a run
 * watches tens to a few hundred sockets, where poll's O(n) scan costs
 * microseconds and the code stays obvious.
 */
#include "steps/step_loop.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/xalloc.h"

uint64_t step_loop_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void step_loop_init(struct step_loop *loop)
{
	memset(loop, 0, sizeof(*loop));
}

void step_loop_release(struct step_loop *loop)
{
	free(loop->w);
	memset(loop, 0, sizeof(*loop));
}

static ssize_t find(const struct step_loop *loop, int fd)
{
	for (size_t i = 0; i < loop->n; i++)
		if (loop->w[i].fd == fd)
			return (ssize_t)i;
	return -1;
}

int step_loop_watch(struct step_loop *loop, int fd, unsigned events,
		    step_loop_io_cb cb, void *ctx)
{
	if (!events) {
		step_loop_unwatch(loop, fd);
		return 0;
	}
	ssize_t i = find(loop, fd);
	if (i < 0) {
		if (xgrow(&loop->w, &loop->cap, loop->n + 1, sizeof(*loop->w)) <
		    0)
			return PE_NOMEM;
		i = (ssize_t)loop->n++;
	}
	loop->w[i] = (struct step_loop_watch){ fd, events, cb, ctx };
	return 0;
}

void step_loop_unwatch(struct step_loop *loop, int fd)
{
	ssize_t i = find(loop, fd);
	if (i < 0)
		return;
	loop->w[i] = loop->w[--loop->n];
}

void step_loop_timer_stop(struct step_loop *loop, struct step_loop_timer *t)
{
	if (!t->armed)
		return;
	for (struct step_loop_timer **p = &loop->timers; *p; p = &(*p)->next)
		if (*p == t) {
			*p = t->next;
			break;
		}
	t->armed = false;
	t->next = NULL;
}

void step_loop_timer_start(struct step_loop *loop, struct step_loop_timer *t,
			   uint64_t delay_ns, step_loop_timer_cb cb, void *ctx)
{
	step_loop_timer_stop(loop, t);
	t->deadline_ns = step_loop_now_ns() + delay_ns;
	t->cb = cb;
	t->ctx = ctx;
	t->armed = true;
	t->next = loop->timers;
	loop->timers = t;
}

void step_loop_stop(struct step_loop *loop)
{
	loop->stop = true;
}

/* Fire every due timer; returns the ms until the next one (-1: none). */
static int run_timers(struct step_loop *loop)
{
	for (;;) {
		uint64_t now = step_loop_now_ns();
		struct step_loop_timer *due = NULL;
		uint64_t next = UINT64_MAX;
		for (struct step_loop_timer *t = loop->timers; t; t = t->next) {
			if (t->deadline_ns <= now && !due)
				due = t;
			else if (t->deadline_ns < next)
				next = t->deadline_ns;
		}
		if (due) {
			/* one at a time: a callback may change the list */
			step_loop_timer_stop(loop, due);
			due->cb(loop, due->ctx);
			if (loop->stop)
				return 0;
			continue;
		}
		if (next == UINT64_MAX)
			return -1;
		uint64_t ms = (next - now + 999999) / 1000000;
		return ms > 60000 ? 60000 : (int)ms;
	}
}

int step_loop_run(struct step_loop *loop)
{
	struct pollfd *pfd = NULL;
	size_t pcap = 0;
	int ret = 0;

	loop->stop = false;
	while (!loop->stop) {
		int timeout = run_timers(loop);
		if (loop->stop)
			break;
		if (loop->n == 0 && timeout < 0)
			break;
		if (xgrow(&pfd, &pcap, loop->n + 1, sizeof(*pfd)) < 0) {
			ret = PE_NOMEM;
			break;
		}
		size_t n = loop->n;
		for (size_t i = 0; i < n; i++) {
			pfd[i].fd = loop->w[i].fd;
			pfd[i].events =
				(short)(((loop->w[i].events & STEP_LOOP_READ)
						 ? POLLIN
						 : 0) |
					((loop->w[i].events & STEP_LOOP_WRITE)
						 ? POLLOUT
						 : 0));
			pfd[i].revents = 0;
		}
		int r = poll(pfd, n, timeout);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			ret = PE_IO;
			break;
		}
		for (size_t i = 0; i < n && r > 0 && !loop->stop; i++) {
			if (!pfd[i].revents)
				continue;
			r--;
			/* the watch may have gone or changed in a callback */
			ssize_t k = find(loop, pfd[i].fd);
			if (k < 0)
				continue;
			struct step_loop_watch w = loop->w[k];
			unsigned ev = 0;
			if (pfd[i].revents & POLLIN)
				ev |= STEP_LOOP_READ;
			if (pfd[i].revents & POLLOUT)
				ev |= STEP_LOOP_WRITE;
			if (pfd[i].revents & (POLLERR | POLLHUP | POLLNVAL))
				ev |= STEP_LOOP_ERROR | (w.events &
							 (STEP_LOOP_READ |
							  STEP_LOOP_WRITE));
			w.cb(loop, w.fd, ev, w.ctx);
		}
	}
	free(pfd);
	return ret;
}
