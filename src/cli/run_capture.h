/*
 * run_capture.h: the packet capture of one `probe run` process (DESIGN
 * section 8), between the capture module, the steps and the analyzer.
 *
 *   open      one handle per interface the runs' known endpoints are
 *             routed through (or --interface / config `interface`), the
 *             filter of those endpoints (resolvers, literal addresses),
 *             then privileges dropped (config `user` when root; every
 *             capability but CAP_NET_RAW), then the capture thread
 *             started;
 *   hooks     every endpoint a step is about to reach joins the filter
 *             before its first packet leaves (step_hooks.endpoint);
 *   analyze   after a run ends and a grace (RUN_CAPTURE_GRACE_*: the
 *             peers' last ACKs and FINs are one RTT away), the capture
 *             is synced (capture_sync: every frame the kernel took by
 *             then is in the ring, however late the reader thread runs)
 *             and the run's own packets are picked and analyzed into
 *             its record;
 *   close     the thread stopped, the ring freed.
 */
#ifndef PROBE_CLI_RUN_CAPTURE_H
#define PROBE_CLI_RUN_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "scenario/scn_plan.h"
#include "steps/step_exec.h"
#include "util/err.h"

/* grace = MIN + 2 x the run's largest RTT, at most MAX: the wire's time
 * for the closing packets.  The capture's own lag is not in it: the sync
 * after the grace waits for the reader (at most SYNC_MAX). */
#define RUN_CAPTURE_GRACE_MIN_MS 5
#define RUN_CAPTURE_GRACE_MAX_MS 1000
#define RUN_CAPTURE_SYNC_MAX_MS 500

struct run_cap;

/*
 * The capture filter the plans start with (what --dry-run prints).
 * Malloc'ed, or NULL with err.
 */
char *run_capture_filter_text(const struct scn_plan *plans, size_t n,
			      struct errbuf *err);

/*
 * Open and start the capture.  iface: --interface or the config's (NULL:
 * choose by route).  user: the config's `user` (NULL: none).  NULL with
 * err when it cannot: PE_PERM (no capture rights) or PE_IO.
 */
struct run_cap *run_capture_open(const struct scn_plan *plans, size_t n,
				     const char *iface, const char *user,
				     struct errbuf *err);

const struct step_hooks *run_capture_hooks(struct run_cap *rc);

/* How long to wait after a run ended before analyzing it. */
uint64_t run_capture_grace_ns(const struct run_rec *run);

/*
 * Analyze a finished run's packets into its record (capture 'on', wire
 * figures, findings, drops and truncation).  Only between the run's end
 * (plus the grace) and step_exec_run's return.
 */
int run_capture_analyze(struct run_cap *rc, struct step_exec_item *item,
			struct errbuf *err) PE_WARN_UNUSED;

/*
 * Write the run's escalation pcap (its own frames, as analyzed: frame
 * numbers match its findings) into SPOOL/pcaps/RUN_ID.pcapng through
 * capture/cap_evidence.c (headers, DNS whole, TLS record headers; with
 * the scenario's `keylog on` whole TLS records and its secrets), with a
 * comment on each frame a finding cites, and hang a pcap record on the
 * run (path relative to the spool, size, sha256, expiry after
 * retention_days, reason).  Only after run_capture_analyze() of the
 * same run.
 */
int run_capture_evidence(struct run_cap *rc, struct step_exec_item *item,
			 const char *spool, int64_t retention_days,
			 const char *reason, struct errbuf *err)
	PE_WARN_UNUSED;

/* Forget a run's frames (after its evidence, or when none is kept). */
void run_capture_forget(struct run_cap *rc, struct step_exec_item *item);

/* Stop and free (NULL is fine). */
void run_capture_close(struct run_cap *rc);

#endif
