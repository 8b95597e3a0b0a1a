/* waterfall.c: see waterfall.h. */
#include "report/waterfall.h"

#include <math.h>
#include <stdio.h>

const struct wf_seg_info wf_seg_info[WF_COUNT] = {
	[WF_DNS] = { "dns", "DNS", "dns_ms", "library" },
	[WF_CONNECT] = { "connect", "connect", "connect_ms", "library" },
	[WF_TLS] = { "tls", "TLS", "tls_ms", "library" },
	[WF_SENT] = { "request_sent", "request sent", "request_sent_ms",
		      "wire" },
	[WF_NETWORK] = { "network", "network wait", "rtt_ms", "wire" },
	[WF_THINK] = { "think", "server think", "think_ms", "wire" },
	[WF_TRANSFER] = { "transfer", "transfer", "transfer_ms", "wire" },
};

static void wf_set(struct waterfall *w, enum wf_seg k, double ms,
		   bool applies)
{
	w->applies[k] = applies || !isnan(ms);
	w->ms[k] = ms;
}

/* Starts and the sum, once the figures are in. */
static void wf_lay_out(struct waterfall *w)
{
	double at = 0;
	for (int k = 0; k < WF_COUNT; k++) {
		w->start_ms[k] = at;
		if (!w->applies[k])
			continue;
		if (isnan(w->ms[k]))
			w->n_unknown++;
		else
			at += w->ms[k];
	}
	w->sum_ms = at;
}

static void wf_init(struct waterfall *w, const struct step_rec *step,
		    const struct exchange_rec *ex)
{
	*w = (struct waterfall){ .step = step, .ex = ex, .total_ms = NAN };
	for (int k = 0; k < WF_COUNT; k++)
		w->ms[k] = w->start_ms[k] = NAN;
}

size_t waterfall_of_step(const struct step_rec *step,
			 struct waterfall *out, size_t max)
{
	if (step->skipped)
		return 0;
	if (step->n_exchanges == 0) {
		if (max) {
			struct waterfall *w = &out[0];
			wf_init(w, step, NULL);
			wf_set(w, WF_DNS, step->dns_ms, false);
			wf_set(w, WF_CONNECT, step->connect_ms, false);
			wf_set(w, WF_TLS, step->tls_ms, false);
			w->total_ms = step->total_ms;
			wf_lay_out(w);
		}
		return 1;
	}
	for (size_t i = 0; i < step->n_exchanges && i < max; i++) {
		const struct exchange_rec *x = &step->exchanges[i];
		struct waterfall *w = &out[i];
		wf_init(w, step, x);
		wf_set(w, WF_DNS, x->dns_ms, false);
		wf_set(w, WF_CONNECT, x->connect_ms, false);
		wf_set(w, WF_TLS, x->tls_ms, false);
		/* the wire's part belongs to every exchange: unknown is a
		 * gap to show, not a segment to leave out */
		wf_set(w, WF_SENT, x->request_sent_ms, true);
		wf_set(w, WF_NETWORK, x->rtt_ms, true);
		wf_set(w, WF_THINK, x->think_ms, true);
		wf_set(w, WF_TRANSFER, x->transfer_ms, true);
		w->total_ms = x->total_ms;
		wf_lay_out(w);
	}
	return step->n_exchanges;
}

const char *waterfall_ms_text(double ms, char *buf, size_t len)
{
	if (isnan(ms))
		snprintf(buf, len, "?");
	else if (fabs(ms) < 10)
		snprintf(buf, len, "%.2f ms", ms);
	else if (fabs(ms) < 1000)
		snprintf(buf, len, "%.1f ms", ms);
	else
		snprintf(buf, len, "%.0f ms", ms);
	return buf;
}
