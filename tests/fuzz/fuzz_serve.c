/*
 * fuzz_serve.c: libFuzzer target for `probe serve`'s request path, end to
 * end: each input is sent as the raw bytes of an HTTP request over TCP to
 * a real serve_run() (libmicrohttpd, our routes, the token check, the
 * store, the pcap file) running in a thread of this process, on a store
 * holding one run with a kept pcap.  Nothing may crash, hang or leak, and
 * nothing may be served without the token:
 *   - a reply, when there is one, starts with "HTTP/1.";
 *   - a 200 for anything but /healthz needs "Bearer fuzz-token-0" in the
 *     input (the token file's), else abort(): an authorization bypass;
 *   - a 200 carrying the pcap needs its run id in the input, and its body
 *     is the file's bytes (no other file is ever served).
 * Corpus: tests/fuzz/corpus/serve/ (replayed by `make check`;
 * FUZZ_SERVE_SHOW=1 prints each reply's status line).  Set-up is done
 * once (a temporary directory, removed at exit).
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model/run.h"
#include "serve/serve.h"
#include "store/store.h"
#include "util/xalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define TOKEN "fuzz-token-0"
#define RUN_ID "fz-00000000-0000-4000-8000-000000000001"
#define PCAP_BYTES "\x0a\x0d\x0d\x0a fuzz pcap body"

static char dir[64];
static char listen_at[64];
static struct sockaddr_in srv;
static struct serve_opts opts;
static struct store *st;

static void cleanup(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (dir[0] && system(cmd) != 0)
		fprintf(stderr, "fuzz_serve: could not remove %s\n", dir);
}

static void die(const char *what)
{
	fprintf(stderr, "fuzz_serve: set-up: %s\n", what);
	exit(1);
}

static void seed_store(const char *db)
{
	struct errbuf err;
	struct run_rec r;
	struct step_rec *s;
	if (store_open(db, &st, &err) < 0)
		die(err.msg);
	run_rec_init(&r);
	r.run_id = xstrdup(RUN_ID);
	r.scenario = xstrdup("fz");
	r.region = xstrdup("r1");
	r.probe_id = xstrdup("fz");
	r.started_at = xstrdup("2026-11-23T12:00:00.000000Z");
	r.finished_at = xstrdup("2026-11-23T12:00:01.000000Z");
	r.ok = true;
	r.clock_sync = RUN_CLOCK_SYNCED;
	r.capture = RUN_CAPTURE_ON;
	r.probe_version = xstrdup("fuzz");
	if (run_rec_add_step(&r, &s) < 0)
		die("step");
	s->name = xstrdup("home");
	s->kind = RUN_KIND_HTTP;
	s->target = xstrdup("https://x.test/");
	s->ok = true;
	s->total_ms = 12.5;
	r.pcap = calloc(1, sizeof(*r.pcap));
	if (!r.pcap)
		die("pcap");
	pcap_rec_init(r.pcap);
	r.pcap->path = xstrdup("pcaps/" RUN_ID ".pcapng");
	r.pcap->bytes = (int64_t)sizeof(PCAP_BYTES) - 1;
	r.pcap->sha256 = xstrdup("00000000000000000000000000000000"
				 "00000000000000000000000000000000");
	r.pcap->created_at = xstrdup("2026-11-23T12:00:01.000000Z");
	r.pcap->expires_at = xstrdup("2099-01-01T00:00:00.000000Z");
	r.pcap->reason = xstrdup("breach");
	r.pcap->keylog = 0;
	if (store_run_save(st, &r, &err) < 0)
		die(err.msg);
	run_rec_release(&r);
}

static void *serve_thread(void *arg)
{
	struct errbuf err;
	if (serve_run(st, &opts, arg, &err) < 0)
		die(err.msg);
	return NULL;
}

static void setup(void)
{
	char path[128];
	FILE *f;
	snprintf(dir, sizeof(dir), "/tmp/probe-fuzz-serve-XXXXXX");
	if (!mkdtemp(dir))
		die("mkdtemp");
	atexit(cleanup);
	snprintf(path, sizeof(path), "%s/pcaps", dir);
	if (mkdir(path, 0700) < 0)
		die("mkdir");
	snprintf(path, sizeof(path), "%s/pcaps/%s.pcapng", dir, RUN_ID);
	if (!(f = fopen(path, "w")) ||
	    fwrite(PCAP_BYTES, 1, sizeof(PCAP_BYTES) - 1, f) !=
		    sizeof(PCAP_BYTES) - 1 ||
	    fclose(f) != 0)
		die("pcap file");
	static char token[128], spool[64];
	snprintf(token, sizeof(token), "%s/token", dir);
	int fd = open(token, O_WRONLY | O_CREAT | O_EXCL, 0600);
	if (fd < 0 || write(fd, TOKEN "\n", sizeof(TOKEN)) != sizeof(TOKEN) ||
	    close(fd) != 0)
		die("token");
	snprintf(spool, sizeof(spool), "%s", dir);
	snprintf(path, sizeof(path), "%s/probe.db", dir);
	seed_store(path);

	/* a free port: bound and released (nothing else runs here) */
	int s = socket(AF_INET, SOCK_STREAM, 0);
	socklen_t sl = sizeof(srv);
	srv.sin_family = AF_INET;
	srv.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (s < 0 || bind(s, (struct sockaddr *)&srv, sizeof(srv)) < 0 ||
	    getsockname(s, (struct sockaddr *)&srv, &sl) < 0)
		die("port");
	close(s);
	snprintf(listen_at, sizeof(listen_at), "127.0.0.1:%u",
		 ntohs(srv.sin_port));
	opts = (struct serve_opts){ .listen = listen_at, .token_file = token,
				    .spool = spool };
	int p[2];
	if (pipe(p) < 0)
		die("pipe");
	FILE *w = fdopen(p[1], "w");
	pthread_t t;
	if (!w || pthread_create(&t, NULL, serve_thread, w) != 0)
		die("thread");
	pthread_detach(t);
	char line[200];
	FILE *rd = fdopen(p[0], "r");
	if (!rd || !fgets(line, sizeof(line), rd))
		die("serve did not start");
	/* the pipe's ends stay open: serve may still write to it */
}

/* Send the input, half-close, read the reply until the server closes. */
static size_t exchange(const uint8_t *data, size_t size, char *out,
		       size_t cap)
{
	/* from 127.0.0.2 .. 127.0.0.251 in turn: libmicrohttpd frees a
	 * closed connection's slot a moment later, and one address gets
	 * SERVE_PER_IP_LIMIT of them */
	static unsigned next;
	struct sockaddr_in me = { .sin_family = AF_INET };
	me.sin_addr.s_addr = htonl(INADDR_LOOPBACK + 1 + next++ % 250);
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	size_t len = 0;
	if (s < 0 || bind(s, (struct sockaddr *)&me, sizeof(me)) < 0 ||
	    connect(s, (struct sockaddr *)&srv, sizeof(srv)) < 0)
		die("connect");
	for (size_t off = 0; off < size;) {
		ssize_t n = send(s, data + off, size - off, MSG_NOSIGNAL);
		if (n <= 0)
			break; /* the server may close on a bad request */
		off += (size_t)n;
	}
	shutdown(s, SHUT_WR);
	/* replies on loopback take milliseconds; a request the server is
	 * still waiting to complete gets none: libmicrohttpd does not take
	 * a half-close for the end of a request and keeps the connection
	 * until its timeout (SERVE_TIMEOUT_S, 1 s in the fuzz build, 10 s
	 * in the replays).  50 ms for the first byte (a reply takes < 5 ms
	 * here; a late one costs a check, not a false alarm), then 50 ms of
	 * quiet end the reply */
	struct pollfd pfd = { .fd = s, .events = POLLIN };
	while (poll(&pfd, 1, 50) == 1) {
		char junk[4096];
		char *to = len < cap ? out + len : junk;
		size_t room = len < cap ? cap - len : sizeof(junk);
		ssize_t n = recv(s, to, room, 0);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(s);
	return len < cap ? len : cap;
}

static bool has(const uint8_t *d, size_t n, const char *s)
{
	return memmem(d, n, s, strlen(s)) != NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	static char reply[1 << 16];
	if (!ready) {
		setup();
		ready = true;
	}
	size_t n = exchange(data, size, reply, sizeof(reply) - 1);
	reply[n] = '\0';
	if (getenv("FUZZ_SERVE_SHOW")) /* the corpus's replies, for people */
		fprintf(stderr, "%.*s\n", (int)strcspn(reply, "\r\n"), reply);
	if (n == 0)
		return 0;
	if (n < 8 || memcmp(reply, "HTTP/1.", 7) != 0) {
		fprintf(stderr, "not an HTTP reply: %.80s\n", reply);
		abort();
	}
	/* what only a token may see, in any of the (pipelined) replies */
	bool runs = strstr(reply, "X-Probe-Next-After") != NULL;
	bool metrics = strstr(reply, "# TYPE probe_") != NULL;
	bool pcap = strstr(reply, "application/vnd.tcpdump.pcap") != NULL;
	if ((runs || metrics || pcap) && !has(data, size, "Bearer " TOKEN) &&
	    !has(data, size, "bearer " TOKEN) &&
	    !has(data, size, "BEARER " TOKEN)) {
		/* Bearer's case and spaces vary: any token-bearing input */
		if (!has(data, size, TOKEN))
			abort(); /* served without the token */
	}
	if (pcap && !has(data, size, RUN_ID))
		abort(); /* another run's, or no run's, file */
	const char *body = strstr(reply, "\r\n\r\n");
	if (pcap && body && body[4] && strncmp(body + 4, PCAP_BYTES,
					       sizeof(PCAP_BYTES) - 1) != 0 &&
	    !strstr(body + 4, "HTTP/1."))
		abort(); /* a pcap reply whose body is not the file */
	return 0;
}
