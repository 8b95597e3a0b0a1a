/*
 * step_exec.c: the scenario state machines on the loop (step_exec.h) and
 * the helpers every step kind shares (step.h).
 *
 * Each scenario walks its steps in order: a step that uses a variable
 * whose extracting step failed is recorded as skipped; a step that starts
 * after the scenario's budget ran out is recorded as skipped with
 * run.timeout; every other step runs and records its own result.  The
 * next step is started from a zero-delay timer, never from inside the
 * previous step's done callback, so stacks stay flat and a kind may free
 * its state right after calling done.
 */
#include "steps/step_exec.h"

#include <arpa/inet.h>
#include <math.h>
#include <stddef.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "steps/step.h"
#include "steps/tls_trace.h"
#include "util/xalloc.h"

struct step_exec_state {
	struct step_exec_item *item;
	struct step_exec_run_ctx *rc;
	struct step_env env;
	struct tls_trace_set traces;
	struct step_job job;
	size_t next;                 /* index of the next step */
	bool running, finished;
	struct step_loop_timer tick; /* starts the next step */
	uint64_t t0_ns;
};

struct step_exec_run_ctx {
	struct step_loop *loop;
	struct step_exec_item *items;
	size_t n, started, active;
	unsigned parallel;
	step_exec_done_cb on_done;
	void *ctx;
	const struct step_hooks *hooks;
};

/* ---- helpers of step.h ------------------------------------------------ */

uint32_t step_env_conn_key(struct step_env *env)
{
	return ++env->next_conn_key;
}

void step_env_endpoint(struct step_env *env, uint8_t proto,
		       const struct sockaddr *sa)
{
	if (env->hooks && env->hooks->endpoint)
		env->hooks->endpoint(env->hooks->ctx, proto, sa);
}

static socklen_t sa_len(const struct sockaddr *sa)
{
	return sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
					 : sizeof(struct sockaddr_in);
}

void step_env_flow(struct step_env *env, uint8_t proto, int fd,
		   const struct sockaddr *remote)
{
	struct step_flow f;
	memset(&f, 0, sizeof(f));
	socklen_t len = sizeof(f.local);
	if (!env->hooks || fd < 0 || !remote ||
	    getsockname(fd, (struct sockaddr *)&f.local, &len) < 0 ||
	    f.local.ss_family != remote->sa_family)
		return;
	f.proto = proto;
	memcpy(&f.remote, remote, sa_len(remote));
	for (size_t i = 0; i < env->n_flows; i++)
		if (memcmp(&env->flows[i], &f, sizeof(f)) == 0)
			return;
	if (xgrow(&env->flows, &env->cap_flows, env->n_flows + 1,
		  sizeof(*env->flows)) < 0)
		return; /* the capture then misses this socket's packets */
	env->flows[env->n_flows++] = f;
}

const struct tls_trace_set *step_exec_item_traces(
	const struct step_exec_item *item)
{
	return item->state ? &item->state->traces : NULL;
}

const struct clock_map *step_exec_item_clock(
	const struct step_exec_item *item)
{
	return item->state ? &item->state->env.clock : NULL;
}

const struct step_flow *step_exec_item_flows(const struct step_exec_item *item,
					     size_t *n)
{
	*n = item->state ? item->state->env.n_flows : 0;
	return item->state ? item->state->env.flows : NULL;
}

static const struct step_var *var_find(const struct step_env *env,
				       const char *name)
{
	for (size_t i = 0; i < env->n_vars; i++)
		if (strcmp(env->vars[i].name, name) == 0)
			return &env->vars[i];
	return NULL;
}

/*
 * The parser made every ${NAME} either an extract (an earlier line
 * extracts NAME) or the environment, never both, so one lookup order
 * serves both kinds.
 */
static const char *var_lookup(const char *name, void *ctx)
{
	const struct step_var *v = var_find(ctx, name);
	return v ? v->value : getenv(name);
}

char *step_expand(struct step_env *env, const struct scn_tmpl *t,
		  struct errbuf *err)
{
	return scn_tmpl_expand(t, var_lookup, env, err);
}

void step_secret_free(char *s)
{
	if (!s)
		return;
	/* explicit_bzero: the compiler may not drop the wipe of a dying buffer */
	explicit_bzero(s, strlen(s));
	free(s);
}

int step_var_set(struct step_env *env, const char *name, const char *value)
{
	char *v = xstrdup(value);
	if (!v)
		return PE_NOMEM;
	for (size_t i = 0; i < env->n_vars; i++)
		if (strcmp(env->vars[i].name, name) == 0) {
			step_secret_free(env->vars[i].value);
			env->vars[i].value = v;
			return 0;
		}
	char *n = xstrdup(name);
	if (!n || xgrow(&env->vars, &env->cap_vars, env->n_vars + 1,
			sizeof(*env->vars)) < 0) {
		free(n);
		free(v);
		return PE_NOMEM;
	}
	env->vars[env->n_vars++] = (struct step_var){ n, v };
	return 0;
}

double step_ms(uint64_t from_ns, uint64_t to_ns)
{
	if (to_ns < from_ns)
		return 0;
	/* µs resolution, as the store documents */
	return (double)((to_ns - from_ns) / 1000) / 1000.0;
}

char *step_utc(const struct step_env *env, uint64_t mono_ns)
{
	int64_t real = env->clock.off0_ns + (int64_t)mono_ns;
	time_t sec = (time_t)(real / 1000000000);
	long usec = (long)((real % 1000000000) / 1000);
	struct tm tm;
	char buf[40];
	if (!gmtime_r(&sec, &tm))
		return NULL;
	size_t n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, sizeof(buf) - n, ".%06ldZ", usec);
	return xstrdup(buf);
}

/* s with every val replaced by ${label}; s is wiped and freed. */
static char *replace_all(char *s, const char *val, const char *label)
{
	size_t vl = strlen(val);
	if (!s || vl < STEP_REDACT_MIN || !strstr(s, val))
		return s;
	char *rep = xasprintf("${%s}", label);
	size_t rl = rep ? strlen(rep) : 0;
	size_t n = 0;
	for (const char *p = s; (p = strstr(p, val)); p += vl)
		n++;
	char *out = rep ? malloc(strlen(s) + n * rl + 1) : NULL;
	if (out) {
		char *o = out;
		const char *p = s, *hit;
		while ((hit = strstr(p, val))) {
			memcpy(o, p, (size_t)(hit - p));
			o += hit - p;
			memcpy(o, rep, rl);
			o += rl;
			p = hit + vl;
		}
		memcpy(o, p, strlen(p) + 1);
	}
	free(rep);
	step_secret_free(s);
	return out;
}

char *step_redact(const struct step_env *env, const char *in)
{
	char *s = xstrdup(in);
	const struct scn_plan *plan = env->plan;
	for (size_t i = 0; s && plan && i < plan->n_env_vars; i++) {
		const char *val = getenv(plan->env_vars[i].name);
		if (val)
			s = replace_all(s, val, plan->env_vars[i].name);
	}
	for (size_t i = 0; s && i < env->n_secrets; i++)
		s = replace_all(s, env->secrets[i].value,
				env->secrets[i].name);
	return s;
}

void step_env_release_vars(struct step_env *env)
{
	for (size_t k = 0; k < env->n_vars; k++) {
		free(env->vars[k].name);
		step_secret_free(env->vars[k].value);
	}
	free(env->vars);
	env->vars = NULL;
	env->n_vars = env->cap_vars = 0;
	for (size_t k = 0; k < env->n_secrets; k++) {
		free(env->secrets[k].name);
		step_secret_free(env->secrets[k].value);
	}
	free(env->secrets);
	env->secrets = NULL;
	env->n_secrets = env->cap_secrets = 0;
}

int step_secret_add(struct step_env *env, const char *label,
		    const char *value, size_t len)
{
	if (len < STEP_REDACT_MIN || env->n_secrets >= STEP_MAX_SECRETS)
		return 0;
	for (size_t i = 0; i < env->n_secrets; i++)
		if (strlen(env->secrets[i].value) == len &&
		    memcmp(env->secrets[i].value, value, len) == 0)
			return 0;
	char *v = xstrndup(value, len), *n = xstrdup(label);
	if (!v || !n || xgrow(&env->secrets, &env->cap_secrets,
			      env->n_secrets + 1, sizeof(*env->secrets)) < 0) {
		free(n);
		step_secret_free(v);
		return PE_NOMEM;
	}
	env->secrets[env->n_secrets++] = (struct step_var){ n, v };
	return 0;
}

/* Details are cut to this many bytes, after redaction (so a cut can split
 * a ${NAME}, never a value). */
#define STEP_DETAIL_MAX 512

void step_fail(struct step_job *job, const char *error_class,
	       const char *fmt, ...)
{
	struct step_rec *r = job->rec;
	char buf[4096];
	va_list ap;
	r->ok = false;
	if (r->error) /* the first failure is the one that matters */
		return;
	r->error = xstrdup(error_class);
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	char *clean = step_redact(job->env, buf);
	/* the raw text may hold a secret: wipe it */
	explicit_bzero(buf, sizeof(buf));
	if (clean && strlen(clean) > STEP_DETAIL_MAX)
		clean[STEP_DETAIL_MAX] = '\0';
	free(r->error_detail);
	r->error_detail = clean;
}

static void sockaddr_text(const struct sockaddr_storage *ss, char **addr,
			  int64_t *port)
{
	char buf[INET6_ADDRSTRLEN];
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s = (const void *)ss;
		inet_ntop(AF_INET, &s->sin_addr, buf, sizeof(buf));
		*port = ntohs(s->sin_port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s = (const void *)ss;
		inet_ntop(AF_INET6, &s->sin6_addr, buf, sizeof(buf));
		*port = ntohs(s->sin6_port);
	} else {
		return;
	}
	free(*addr);
	*addr = xstrdup(buf);
}

void step_conn_from_fd(struct conn_rec *c, int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0) {
		sockaddr_text(&ss, &c->src_addr, &c->src_port);
		c->family = ss.ss_family == AF_INET6 ? RUN_FAMILY_IPV6
						     : RUN_FAMILY_IPV4;
	}
	len = sizeof(ss);
	if (getpeername(fd, (struct sockaddr *)&ss, &len) == 0)
		sockaddr_text(&ss, &c->dst_addr, &c->dst_port);
}

int step_rec_add_attempt(struct step_job *job,
			 const struct step_conn_tuple *tuple)
{
	struct conn_rec *c;
	if (!tuple)
		return 0;
	int ret = step_rec_add_conn(job->rec, &c);
	if (ret == PE_LIMIT)
		return 0;
	if (ret < 0)
		return ret;
	c->key = step_env_conn_key(job->env);
	sockaddr_text(&tuple->local, &c->src_addr, &c->src_port);
	sockaddr_text(&tuple->remote, &c->dst_addr, &c->dst_port);
	c->family = tuple->remote.ss_family == AF_INET6 ? RUN_FAMILY_IPV6
							: RUN_FAMILY_IPV4;
	c->conn_state = RUN_CONN_NEW;
	c->source = RUN_SOURCE_LIBRARY;
	return c->src_addr && c->dst_addr ? 0 : PE_NOMEM;
}

uint64_t step_job_deadline_ns(const struct step_job *job)
{
	uint64_t d = job->t0_ns + (uint64_t)job->st->opts.timeout_ms * 1000000u;
	return d < job->env->deadline_ns ? d : job->env->deadline_ns;
}

/* ---- the scenario state machine ---------------------------------------- */

static void tick(struct step_loop *loop, void *ctx);
static void start_more(struct step_exec_run_ctx *rc);

/* The first ${NAME} of an extract that has no value (its step failed). */
static const char *missing_in(const struct step_env *env,
			      const struct scn_tmpl *t)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->segs[i].kind == SCN_SEG_EXTRACT &&
		    !var_find(env, t->segs[i].text))
			return t->segs[i].text;
	return NULL;
}

static const char *missing_var(const struct step_env *env,
			       const struct scn_step *st)
{
	const char *m;
	if ((m = missing_in(env, &st->target)) ||
	    (m = missing_in(env, &st->body)) ||
	    (m = missing_in(env, &st->opts.sni)) ||
	    (m = missing_in(env, &st->opts.proxy)))
		return m;
	for (size_t i = 0; i < st->n_headers; i++)
		if ((m = missing_in(env, &st->headers[i])))
			return m;
	for (size_t i = 0; i < st->n_expects; i++)
		if ((m = missing_in(env, &st->expects[i].value)))
			return m;
	return NULL;
}

/* Which step extracts name (for the skip message). */
static const struct scn_step *extractor(const struct scn_plan *plan,
					 const char *name, size_t before)
{
	for (size_t i = before; i-- > 0;)
		for (size_t k = 0; k < plan->steps[i].n_extracts; k++)
			if (strcmp(plan->steps[i].extracts[k].name, name) == 0)
				return &plan->steps[i];
	return NULL;
}

static void set_text(char **dst, const char *src)
{
	free(*dst);
	*dst = xstrdup(src);
}

static void finish_scenario(struct step_exec_state *s)
{
	struct step_exec_item *item = s->item;
	struct run_rec *run = item->run;
	uint64_t now = step_loop_now_ns();
	bool ok = item->status == 0;
	for (size_t i = 0; i < run->n_steps; i++)
		ok = ok && run->steps[i].ok;
	run->ok = ok;
	free(run->finished_at);
	run->finished_at = step_utc(&s->env, now);
	s->env.clock.mono1_ns = clock_map_read(&s->env.clock.off1_ns);
	if (item->status != 0 && !run->error)
		run->error = xstrdup("internal");
	step_http_env_release(&s->env);
	step_tls_env_release(&s->env);
	step_dns_env_release(&s->env);
	s->finished = true;
	s->rc->active--;
	if (s->rc->on_done)
		s->rc->on_done(item, s->rc->ctx);
	start_more(s->rc);
}

static void step_done(struct step_job *job)
{
	/* the job is embedded in its scenario's state */
	struct step_exec_state *st = (struct step_exec_state *)
		((char *)job - offsetof(struct step_exec_state, job));
	struct step_rec *r = job->rec;
	uint64_t now = step_loop_now_ns();
	if (r->error)
		r->ok = false;
	if (isnan(r->total_ms))
		r->total_ms = step_ms(job->t0_ns, now);
	st->running = false;
	step_loop_timer_start(st->env.loop, &st->tick, 0, tick, st);
}

/* Mark steps [from, n) as not run, with class and detail. */
static void skip_rest(struct step_exec_state *s, size_t from,
		      const char *error_class, const char *detail)
{
	struct run_rec *run = s->item->run;
	for (size_t i = from; i < run->n_steps; i++) {
		struct step_rec *r = &run->steps[i];
		r->skipped = true;
		r->ok = false;
		set_text(&r->error, error_class);
		set_text(&r->error_detail, detail);
	}
}

static void run_step(struct step_exec_state *s)
{
	const struct scn_plan *plan = s->item->plan;
	struct run_rec *run = s->item->run;
	size_t i = s->next++;
	const struct scn_step *st = &plan->steps[i];
	struct step_rec *r = &run->steps[i];
	uint64_t now = step_loop_now_ns();

	if (now >= s->env.deadline_ns) {
		char d[96];
		snprintf(d, sizeof(d), "the scenario's timeout of %u ms ran "
				       "out before this step",
			 plan->timeout_ms);
		skip_rest(s, i, "run.timeout", d);
		s->next = plan->n_steps;
		step_loop_timer_start(s->env.loop, &s->tick, 0, tick, s);
		return;
	}
	const char *m = missing_var(&s->env, st);
	if (m) {
		const struct scn_step *x = extractor(plan, m, i);
		char d[200];
		snprintf(d, sizeof(d), "${%s} has no value: step '%s' (line %u) "
				       "did not extract it",
			 m, x ? x->name : "?", x ? x->line : 0);
		r->skipped = true;
		r->ok = false;
		set_text(&r->error, "skipped");
		set_text(&r->error_detail, d);
		step_loop_timer_start(s->env.loop, &s->tick, 0, tick, s);
		return;
	}

	static int (*const start[])(struct step_job *) = {
		[SCN_STEP_DNS] = step_dns_start,
		[SCN_STEP_TCP] = step_tcp_start,
		[SCN_STEP_TLS] = step_tls_start,
		[SCN_STEP_HTTP] = step_http_start,
	};
	r->skipped = false;
	r->ok = true;
	free(r->error);
	r->error = NULL;
	free(r->error_detail);
	r->error_detail = NULL;
	free(r->started_at);
	r->started_at = step_utc(&s->env, now);
	s->job = (struct step_job){ .env = &s->env, .st = st, .rec = r,
				    .t0_ns = now, .done = step_done };
	s->running = true;
	int ret = start[st->kind](&s->job);
	if (ret < 0) {
		s->running = false;
		s->item->status = ret;
		errbuf_set(&s->item->err, ret, "step %zu (%s): %s", i + 1,
			   st->name, pe_name(ret));
		r->ok = false;
		set_text(&r->error, "internal");
		skip_rest(s, i + 1, "skipped", "probe failed internally");
		s->next = plan->n_steps;
		step_loop_timer_start(s->env.loop, &s->tick, 0, tick, s);
	}
}

static void tick(struct step_loop *loop, void *ctx)
{
	struct step_exec_state *s = ctx;
	(void)loop;
	if (s->running || s->finished)
		return;
	if (s->next < s->item->plan->n_steps)
		run_step(s);
	else
		finish_scenario(s);
}

/* Pre-add every step's record, so steps that never run are recorded. */
static int prepare(struct step_exec_state *s)
{
	const struct scn_plan *plan = s->item->plan;
	struct run_rec *run = s->item->run;
	static const enum run_step_kind kinds[] = {
		[SCN_STEP_DNS] = RUN_KIND_DNS, [SCN_STEP_TCP] = RUN_KIND_TCP,
		[SCN_STEP_TLS] = RUN_KIND_TLS, [SCN_STEP_HTTP] = RUN_KIND_HTTP };
	for (size_t i = 0; i < plan->n_steps; i++) {
		const struct scn_step *st = &plan->steps[i];
		struct step_rec *r;
		int ret = run_rec_add_step(run, &r);
		if (ret < 0)
			return ret;
		r->kind = kinds[st->kind];
		r->name = xstrdup(st->name);
		char *t = scn_tmpl_show(&st->target);
		if (t && (st->kind == SCN_STEP_TCP || st->kind == SCN_STEP_TLS)) {
			char *hp = xasprintf(strchr(t, ':') ? "[%s]:%u"
							    : "%s:%u",
					     t, st->port);
			free(t);
			t = hp;
		}
		r->target = t;
		r->skipped = true;
		if (!r->name || !r->target)
			return PE_NOMEM;
	}
	return 0;
}

static int start_scenario(struct step_exec_run_ctx *rc,
			  struct step_exec_item *item)
{
	struct step_exec_state *s = calloc(1, sizeof(*s));
	if (!s)
		return PE_NOMEM;
	item->state = s;
	s->item = item;
	s->rc = rc;
	s->env.loop = rc->loop;
	s->env.plan = item->plan;
	s->env.run = item->run;
	s->env.traces = &s->traces;
	s->env.hooks = rc->hooks;
	s->env.clock.mono0_ns = clock_map_read(&s->env.clock.off0_ns);
	s->t0_ns = s->env.clock.mono0_ns;
	s->env.deadline_ns =
		s->t0_ns + (uint64_t)item->plan->timeout_ms * 1000000u;
	rc->active++;
	free(item->run->started_at);
	item->run->started_at = step_utc(&s->env, s->t0_ns);
	int ret = prepare(s);
	if (ret == 0)
		ret = step_dns_env_init(&s->env, &item->err);
	if (ret == 0)
		ret = step_http_env_init(&s->env, &item->err);
	if (ret < 0) {
		item->status = ret;
		if (!item->err.msg[0])
			errbuf_set(&item->err, ret, "%s", pe_name(ret));
		skip_rest(s, 0, "skipped", "probe failed internally");
		s->next = item->plan->n_steps;
	}
	step_loop_timer_start(rc->loop, &s->tick, 0, tick, s);
	return 0;
}

static void start_more(struct step_exec_run_ctx *rc)
{
	while (rc->started < rc->n && rc->active < rc->parallel) {
		struct step_exec_item *item = &rc->items[rc->started++];
		if (start_scenario(rc, item) < 0) {
			item->status = PE_NOMEM;
			errbuf_set(&item->err, PE_NOMEM, "out of memory");
			if (rc->on_done)
				rc->on_done(item, rc->ctx);
		}
	}
}

int step_exec_run(struct step_loop *loop, struct step_exec_item *items,
		  size_t n, unsigned parallel, const struct step_hooks *hooks,
		  step_exec_done_cb on_done, void *ctx)
{
	struct step_exec_run_ctx rc = { .loop = loop, .items = items, .n = n,
					.parallel = parallel ? parallel : 1,
					.on_done = on_done, .ctx = ctx,
					.hooks = hooks };
	for (size_t i = 0; i < n; i++) {
		items[i].status = 0;
		items[i].err.msg[0] = '\0';
		items[i].state = NULL;
	}
	start_more(&rc);
	int ret = step_loop_run(loop);
	for (size_t i = 0; i < n; i++) {
		struct step_exec_state *s = items[i].state;
		if (!s)
			continue;
		step_env_release_vars(&s->env);
		free(s->env.flows);
		tls_trace_set_release(&s->traces);
		free(s);
		items[i].state = NULL;
	}
	return ret;
}
