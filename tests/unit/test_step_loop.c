/*
 * test_step_loop.c: the event loop (timers in deadline order, fd watches,
 * callbacks that change the loop) and the TCP connect helper against real
 * loopback sockets: a listener that accepts, and a closed port.
 */
#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "steps/step.h"
#include "steps/step_loop.h"

struct order {
	int seen[8];
	int n;
};

struct tmark {
	struct step_loop_timer t;
	struct order *o;
	int id;
};

static void on_mark(struct step_loop *loop, void *ctx)
{
	struct tmark *m = ctx;
	(void)loop;
	m->o->seen[m->o->n++] = m->id;
}

static void test_step_loop_timers_in_order(void **state)
{
	(void)state;
	struct step_loop loop;
	struct order o = { 0 };
	struct tmark m[4] = { { .o = &o, .id = 1 }, { .o = &o, .id = 2 },
			      { .o = &o, .id = 3 }, { .o = &o, .id = 4 } };
	step_loop_init(&loop);
	step_loop_timer_start(&loop, &m[0].t, 30000000, on_mark, &m[0]);
	step_loop_timer_start(&loop, &m[1].t, 10000000, on_mark, &m[1]);
	step_loop_timer_start(&loop, &m[2].t, 20000000, on_mark, &m[2]);
	step_loop_timer_start(&loop, &m[3].t, 5000000, on_mark, &m[3]);
	step_loop_timer_stop(&loop, &m[3].t); /* a stopped timer never fires */
	uint64_t t0 = step_loop_now_ns();
	assert_int_equal(step_loop_run(&loop), 0);
	uint64_t took = step_loop_now_ns() - t0;
	assert_int_equal(o.n, 3);
	assert_int_equal(o.seen[0], 2);
	assert_int_equal(o.seen[1], 3);
	assert_int_equal(o.seen[2], 1);
	assert_true(took >= 30000000); /* it waited, it did not spin past */
	step_loop_release(&loop);
}

struct pipe_ctx {
	int reads;
	char buf[8];
};

static void on_read(struct step_loop *loop, int fd, unsigned ev, void *ctx)
{
	struct pipe_ctx *p = ctx;
	assert_true(ev & STEP_LOOP_READ);
	assert_int_equal(read(fd, p->buf, sizeof(p->buf)), 3);
	p->reads++;
	step_loop_unwatch(loop, fd); /* removing itself from a callback */
}

static void test_step_loop_fd_watch(void **state)
{
	(void)state;
	struct step_loop loop;
	struct pipe_ctx p = { 0 };
	int fds[2];
	assert_int_equal(pipe(fds), 0);
	step_loop_init(&loop);
	assert_int_equal(step_loop_watch(&loop, fds[0], STEP_LOOP_READ,
					 on_read, &p),
			 0);
	assert_int_equal(write(fds[1], "abc", 3), 3);
	assert_int_equal(step_loop_run(&loop), 0);
	assert_int_equal(p.reads, 1);
	assert_memory_equal(p.buf, "abc", 3);
	close(fds[0]);
	close(fds[1]);
	step_loop_release(&loop);
}

struct conn_result {
	int fd;
	const char *error_class;
	double ms;
	int calls;
	bool have_tuple;
	struct step_conn_tuple tuple;
};

static void on_conn(void *ctx, int fd, const char *error_class,
		    const char *detail, double connect_ms,
		    const struct step_conn_tuple *tuple)
{
	struct conn_result *r = ctx;
	(void)detail;
	r->fd = fd;
	r->error_class = error_class;
	r->ms = connect_ms;
	r->calls++;
	r->have_tuple = tuple != NULL;
	if (tuple)
		r->tuple = *tuple;
}

/* A listening socket on 127.0.0.1 and its port. */
static int listener(uint16_t *port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET };
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t len = sizeof(sa);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 4), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	*port = ntohs(sa.sin_port);
	return fd;
}

static void test_step_connect_ok_and_refused(void **state)
{
	(void)state;
	struct step_loop loop;
	struct step_env env = { 0 };
	uint16_t port;
	int lfd = listener(&port);
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_port = htons(port) };
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	step_loop_init(&loop);
	env.loop = &loop;

	struct conn_result ok = { .fd = -1 };
	uint64_t deadline = step_loop_now_ns() + 2000000000u;
	assert_int_equal(step_connect_start(&env, (struct sockaddr *)&sa,
					    sizeof(sa), deadline, on_conn,
					    &ok, NULL),
			 0);
	assert_int_equal(ok.calls, 0); /* never from inside the start */
	assert_int_equal(step_loop_run(&loop), 0);
	assert_int_equal(ok.calls, 1);
	assert_true(ok.fd >= 0);
	assert_null(ok.error_class);
	assert_true(ok.ms >= 0 && ok.ms < 2000);
	struct conn_rec c;
	conn_rec_init(&c);
	step_conn_from_fd(&c, ok.fd);
	assert_string_equal(c.dst_addr, "127.0.0.1");
	assert_int_equal(c.dst_port, port);
	assert_int_equal(c.family, RUN_FAMILY_IPV4);
	assert_true(c.src_port > 0);
	conn_rec_release(&c);
	close(ok.fd);

	/* the port closed: refused */
	close(lfd);
	struct conn_result bad = { .fd = -1 };
	assert_int_equal(step_connect_start(&env, (struct sockaddr *)&sa,
					    sizeof(sa), deadline, on_conn,
					    &bad, NULL),
			 0);
	assert_int_equal(step_loop_run(&loop), 0);
	assert_int_equal(bad.calls, 1);
	assert_int_equal(bad.fd, -1);
	assert_string_equal(bad.error_class, "tcp.refused");
	/* the refused attempt's addresses: the step records it with them */
	assert_true(bad.have_tuple);
	const struct sockaddr_in *rl = (const void *)&bad.tuple.local;
	const struct sockaddr_in *rr = (const void *)&bad.tuple.remote;
	assert_int_equal(rl->sin_family, AF_INET);
	assert_true(ntohs(rl->sin_port) > 0);
	assert_int_equal(ntohs(rr->sin_port), port);

	/* cancelled: never called back */
	int lfd2 = listener(&port);
	sa.sin_port = htons(port);
	struct conn_result cancelled = { .fd = -1 };
	struct step_connect *h;
	assert_int_equal(step_connect_start(&env, (struct sockaddr *)&sa,
					    sizeof(sa), deadline, on_conn,
					    &cancelled, &h),
			 0);
	step_connect_cancel(&env, h);
	assert_int_equal(step_loop_run(&loop), 0);
	assert_int_equal(cancelled.calls, 0);
	close(lfd2);
	step_loop_release(&loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_step_loop_timers_in_order),
		cmocka_unit_test(test_step_loop_fd_watch),
		cmocka_unit_test(test_step_connect_ok_and_refused),
	};
	return cmocka_run_group_tests_name("step_loop", tests, NULL, NULL);
}
