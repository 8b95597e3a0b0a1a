/*
 * config.h: probe's settings and where they come from.
 *
 * Order (DESIGN section 10): command-line flags over PROBE_* environment
 * variables over the config file (`key = value` lines, # comments) over
 * built-in defaults.  The file is --config FILE, else $PROBE_CONFIG, else
 * /etc/probe.conf when it exists.
 */
#ifndef PROBE_CONFIG_CONFIG_H
#define PROBE_CONFIG_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "util/err.h"

#define CONFIG_DEFAULT_PATH "/etc/probe.conf"

enum config_src { CONFIG_SRC_DEFAULT, CONFIG_SRC_FILE, CONFIG_SRC_ENV,
		  CONFIG_SRC_FLAG };

enum config_key {
	CONFIG_DB, CONFIG_SPOOL, CONFIG_REGION, CONFIG_PROBE_ID,
	CONFIG_RETENTION_DAYS, CONFIG_RETENTION_BYTES, CONFIG_USER,
	CONFIG_INTERFACE, CONFIG_BASELINE_MIN_N, CONFIG_BASELINE_DAYS,
	CONFIG_RUNS_RETENTION_DAYS,
	CONFIG_NKEYS
};

struct config {
	char *val[CONFIG_NKEYS];       /* owned; NULL when unset */
	enum config_src src[CONFIG_NKEYS];
	char *file;                    /* the file read, or NULL */
	/* typed views, filled by config_finish() */
	unsigned long retention_days;  /* 0: keep forever */
	uint64_t retention_bytes;      /* 0: no cap */
	unsigned long baseline_min_n;  /* samples a relative threshold needs */
	unsigned long baseline_days;   /* the baselines' window */
	unsigned long runs_retention_days; /* runs' rows; 0: keep forever */
};

/* Name of a key as written in the file ("retention_days"). */
const char *config_key_name(enum config_key k);
/* Environment variable of a key ("PROBE_DB"), or NULL when it has none. */
const char *config_key_env(enum config_key k);

/*
 * Read a config file.  path NULL: $PROBE_CONFIG, else CONFIG_DEFAULT_PATH
 * when it exists (a missing default file is not an error; a missing
 * explicit one is).  Errors name FILE:LINE.  PE_IO, PE_INVAL, PE_NOMEM.
 */
int config_load_file(struct config *cfg, const char *path,
		     struct errbuf *err) PE_WARN_UNUSED;

/* Overlay PROBE_* variables (lookup is getenv-like; ctx passed through). */
int config_load_env(struct config *cfg,
		    const char *(*lookup)(const char *name, void *ctx),
		    void *ctx, struct errbuf *err) PE_WARN_UNUSED;

/* Set one key from a flag (highest precedence).  Validates the value. */
int config_set(struct config *cfg, enum config_key k, const char *value,
	       enum config_src src, struct errbuf *err) PE_WARN_UNUSED;

/*
 * Fill defaults (db ./probe.db, spool ./spool, region "local", probe_id the
 * host name) and the typed views.  Sets *region_defaulted when the region
 * came from no setting at all, so the CLI can say so once.
 */
int config_finish(struct config *cfg, bool *region_defaulted,
		  struct errbuf *err) PE_WARN_UNUSED;

void config_release(struct config *cfg);

#endif
