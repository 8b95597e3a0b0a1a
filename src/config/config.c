/*
 * config.c: the config file, the environment and flags merged into one
 * struct config (see config.h for the order).  Values are validated where
 * they enter, so a typo in /etc/probe.conf fails every command at once
 * with FILE:LINE instead of surfacing later in a cron mail.
 */
#include "config/config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/units.h"
#include "util/xalloc.h"

static const struct {
	const char *name;
	const char *env;
} keys[CONFIG_NKEYS] = {
	[CONFIG_DB] = { "db", "PROBE_DB" },
	[CONFIG_SPOOL] = { "spool", "PROBE_SPOOL" },
	[CONFIG_REGION] = { "region", "PROBE_REGION" },
	[CONFIG_PROBE_ID] = { "probe_id", "PROBE_ID" },
	[CONFIG_RETENTION_DAYS] = { "retention_days", "PROBE_RETENTION_DAYS" },
	[CONFIG_RETENTION_BYTES] = { "retention_bytes",
				     "PROBE_RETENTION_BYTES" },
	[CONFIG_USER] = { "user", "PROBE_USER" },
	[CONFIG_INTERFACE] = { "interface", "PROBE_INTERFACE" },
	[CONFIG_BASELINE_MIN_N] = { "baseline_min_n",
				    "PROBE_BASELINE_MIN_N" },
	[CONFIG_BASELINE_DAYS] = { "baseline_days", "PROBE_BASELINE_DAYS" },
	[CONFIG_RUNS_RETENTION_DAYS] = { "runs_retention_days",
					 "PROBE_RUNS_RETENTION_DAYS" },
};

const char *config_key_name(enum config_key k)
{
	return (unsigned)k < CONFIG_NKEYS ? keys[k].name : "?";
}

const char *config_key_env(enum config_key k)
{
	return (unsigned)k < CONFIG_NKEYS ? keys[k].env : NULL;
}

/* Region and probe id end up in run ids, file names and label values. */
static bool valid_label(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 64)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("._-", *s))
			return false;
	return true;
}

/* Validate v for key k; "" on success, else the reason. */
static const char *check_value(enum config_key k, const char *v)
{
	unsigned long u;
	uint64_t sz;
	switch (k) {
	case CONFIG_REGION:
	case CONFIG_PROBE_ID:
		return valid_label(v) ? ""
				      : "use 1 to 64 letters, digits, '.', '_' "
					"and '-'";
	case CONFIG_RETENTION_DAYS:
	case CONFIG_RUNS_RETENTION_DAYS:
		return units_uint(v, 0, 36500, &u) == 0
			       ? ""
			       : "expected a number of days (0 keeps forever)";
	case CONFIG_RETENTION_BYTES:
		return units_size(v, &sz) == 0
			       ? ""
			       : "expected a size such as 500MB or 2GiB (0: "
				 "no cap)";
	case CONFIG_BASELINE_MIN_N:
		return units_uint(v, 1, 1000000, &u) == 0
			       ? ""
			       : "expected a sample count from 1";
	case CONFIG_BASELINE_DAYS:
		return units_uint(v, 1, 3650, &u) == 0
			       ? ""
			       : "expected a number of days from 1";
	default:
		return *v ? "" : "empty value";
	}
}

int config_set(struct config *cfg, enum config_key k, const char *value,
	       enum config_src src, struct errbuf *err)
{
	const char *why = check_value(k, value);
	if (*why)
		return errbuf_set(err, PE_INVAL, "invalid %s '%s': %s",
				  keys[k].name, value, why);
	char *v = xstrdup(value);
	if (!v)
		return errbuf_set(err, PE_NOMEM, "out of memory");
	free(cfg->val[k]);
	cfg->val[k] = v;
	cfg->src[k] = src;
	return 0;
}

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	size_t n = strlen(s);
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	return s;
}

int config_load_file(struct config *cfg, const char *path,
		     struct errbuf *err)
{
	bool explicit = path != NULL;
	if (!path)
		path = getenv("PROBE_CONFIG");
	if (path && *path)
		explicit = true;
	else
		path = CONFIG_DEFAULT_PATH;
	FILE *f = fopen(path, "re");
	if (!f) {
		if (!explicit && errno == ENOENT)
			return 0;
		return errbuf_set(err, PE_IO, "config %s: %s", path,
				  strerror(errno));
	}
	char line[1024];
	unsigned lineno = 0;
	int ret = 0;
	while (fgets(line, sizeof(line), f)) {
		lineno++;
		if (!strchr(line, '\n') && !feof(f)) {
			ret = errbuf_set(err, PE_INVAL, "%s:%u: line too long",
					 path, lineno);
			goto out;
		}
		char *hash = strchr(line, '#');
		if (hash)
			*hash = '\0';
		char *s = trim(line);
		if (!*s)
			continue;
		char *eq = strchr(s, '=');
		if (!eq) {
			ret = errbuf_set(err, PE_INVAL,
					 "%s:%u: expected 'key = value'", path,
					 lineno);
			goto out;
		}
		*eq = '\0';
		char *k = trim(s), *v = trim(eq + 1);
		int key = -1;
		for (int i = 0; i < CONFIG_NKEYS; i++)
			if (strcmp(keys[i].name, k) == 0)
				key = i;
		if (key < 0) {
			ret = errbuf_set(err, PE_INVAL,
					 "%s:%u: unknown key '%s'", path,
					 lineno, k);
			goto out;
		}
		struct errbuf e2;
		if ((ret = config_set(cfg, (enum config_key)key, v,
				      CONFIG_SRC_FILE, &e2)) < 0) {
			errbuf_set(err, ret, "%s:%u: %s", path, lineno, e2.msg);
			goto out;
		}
	}
	if (ferror(f)) {
		ret = errbuf_set(err, PE_IO, "config %s: read error", path);
		goto out;
	}
	free(cfg->file);
	if (!(cfg->file = xstrdup(path)))
		ret = errbuf_set(err, PE_NOMEM, "out of memory");
out:
	fclose(f);
	return ret;
}

int config_load_env(struct config *cfg,
		    const char *(*lookup)(const char *name, void *ctx),
		    void *ctx, struct errbuf *err)
{
	for (int i = 0; i < CONFIG_NKEYS; i++) {
		const char *v = lookup(keys[i].env, ctx);
		if (!v || !*v)
			continue;
		struct errbuf e2;
		int ret = config_set(cfg, (enum config_key)i, v, CONFIG_SRC_ENV,
				     &e2);
		if (ret < 0)
			return errbuf_set(err, ret, "%s: %s", keys[i].env,
					  e2.msg);
	}
	return 0;
}

int config_finish(struct config *cfg, bool *region_defaulted,
		  struct errbuf *err)
{
	char host[256];
	static const char *const defaults[CONFIG_NKEYS] = {
		[CONFIG_DB] = "./probe.db",
		[CONFIG_SPOOL] = "./spool",
		[CONFIG_REGION] = "local",
		[CONFIG_RETENTION_DAYS] = "30",
		[CONFIG_RETENTION_BYTES] = "0",
		[CONFIG_BASELINE_MIN_N] = "30",
		[CONFIG_BASELINE_DAYS] = "7",
		[CONFIG_RUNS_RETENTION_DAYS] = "90",
	};
	*region_defaulted = cfg->val[CONFIG_REGION] == NULL;
	for (int i = 0; i < CONFIG_NKEYS; i++) {
		const char *d = defaults[i];
		if (cfg->val[i])
			continue;
		if (i == CONFIG_PROBE_ID) {
			/* the host name, made label-safe */
			if (gethostname(host, sizeof(host)) < 0)
				snprintf(host, sizeof(host), "probe");
			host[sizeof(host) - 1] = '\0';
			host[64] = '\0';
			for (char *p = host; *p; p++)
				if (!isalnum((unsigned char)*p) &&
				    !strchr("._-", *p))
					*p = '-';
			d = *host ? host : "probe";
		}
		if (!d)
			continue;
		int ret = config_set(cfg, (enum config_key)i, d,
				     CONFIG_SRC_DEFAULT, err);
		if (ret < 0)
			return ret;
	}
	(void)units_uint(cfg->val[CONFIG_RETENTION_DAYS], 0, 36500,
			 &cfg->retention_days);
	(void)units_size(cfg->val[CONFIG_RETENTION_BYTES],
			 &cfg->retention_bytes);
	(void)units_uint(cfg->val[CONFIG_BASELINE_MIN_N], 1, 1000000,
			 &cfg->baseline_min_n);
	(void)units_uint(cfg->val[CONFIG_BASELINE_DAYS], 1, 3650,
			 &cfg->baseline_days);
	(void)units_uint(cfg->val[CONFIG_RUNS_RETENTION_DAYS], 0, 36500,
			 &cfg->runs_retention_days);
	return 0;
}

void config_release(struct config *cfg)
{
	for (int i = 0; i < CONFIG_NKEYS; i++)
		free(cfg->val[i]);
	free(cfg->file);
	memset(cfg, 0, sizeof(*cfg));
}
