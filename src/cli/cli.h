/*
 * cli.h: the command table, the shared state every command gets, common
 * flags and exit codes (DESIGN section 10).  Only cli/ reads argv, prints
 * to the user and chooses exit codes.
 */
#ifndef PROBE_CLI_CLI_H
#define PROBE_CLI_CLI_H

#include <getopt.h>
#include <stdbool.h>

#include "config/config.h"

/* Exit codes: a public contract (cron wrappers and alerting read them). */
enum exit_code {
	EXIT_OK = 0,       /* all steps ok, no threshold breached */
	EXIT_FAIL = 1,     /* a step failed or a threshold was breached */
	EXIT_USAGE = 2,    /* usage or scenario error (or: not implemented) */
	EXIT_INTERNAL = 3, /* internal, storage or required-capture error */
	EXIT_LOCKED = 4,   /* skipped: another run holds the scenario's lock */
};

enum cmd_flags {
	CMD_NEED_DB = 1 << 0,  /* open the store before the command's work */
	CMD_CAPTURE = 1 << 1,  /* opens capture handles (privileges) */
	CMD_RECORDS = 1 << 2,  /* records runs: region matters */
};

struct store;

struct app {
	const char *cmd_name;     /* "run", "pcap list" */
	unsigned flags;           /* the command's CMD_* */
	/* common flags as given (NULL when absent) */
	const char *opt_db, *opt_spool, *opt_region, *opt_config;
	struct config cfg;        /* after cli_prepare() */
	struct store *store;      /* after cli_prepare() with CMD_NEED_DB */
};

typedef int (*cmd_fn)(int argc, char **argv, struct app *app);

struct cmd {
	const char *name;
	cmd_fn fn;
	unsigned flags;
	const char *summary;  /* one line for `probe --help` */
	const char *usage;    /* the full help text of the command */
};

/* Long options every command accepts; add CLI_COMMON_OPTS to yours. */
enum {
	OPT_DB = 1000, OPT_SPOOL, OPT_REGION, OPT_CONFIG, OPT_HELP,
	OPT_CMD_BASE = 1100 /* commands number their own from here */
};
#define CLI_COMMON_OPTS                                                   \
	{ "db", required_argument, NULL, OPT_DB },                        \
	{ "spool", required_argument, NULL, OPT_SPOOL },                  \
	{ "region", required_argument, NULL, OPT_REGION },                \
	{ "config", required_argument, NULL, OPT_CONFIG },                \
	{ "help", no_argument, NULL, OPT_HELP }
#define CLI_COMMON_HELP                                                   \
	"Common options:\n"                                               \
	"  --db FILE        SQLite store (config 'db', PROBE_DB;\n"         \
	"                   default ./probe.db)\n"                        \
	"  --spool DIR      where kept pcaps go (config 'spool',\n"        \
	"                   PROBE_SPOOL; default ./spool)\n"               \
	"  --region NAME    this probe's region (config 'region',\n"       \
	"                   PROBE_REGION; default 'local')\n"              \
	"  --config FILE    config file (PROBE_CONFIG; default\n"          \
	"                   /etc/probe.conf when it exists)\n"             \
	"  --help           this text\n"

/*
 * Handle a common option in a command's getopt loop.  Returns 1 when opt
 * was one (for --help the usage is printed and *exit_now set to EXIT_OK),
 * 0 when it is the command's own.
 */
int cli_common_opt(struct app *app, int opt, const char *arg, int *exit_now);

/*
 * The default branch of a command's getopt loop: a common option is
 * handled (returns -1: go on), --help prints the usage (returns EXIT_OK),
 * anything else is a usage error (returns EXIT_USAGE).  The caller returns
 * any value >= 0.
 */
int cli_other_opt(struct app *app, int opt, char **argv);

/* Print the command's usage to stdout. */
void cli_usage(const struct app *app);

/*
 * Report a usage error ("probe run: ...") and a hint; returns EXIT_USAGE.
 */
int cli_usage_error(const struct app *app, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Report a failure ("probe run: ..."); returns code. */
int cli_fail(const struct app *app, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * After option parsing: load the configuration (file, environment, flags)
 * and, for CMD_NEED_DB commands, open the store.  Returns EXIT_OK or an
 * exit code (the error already printed).
 */
int cli_prepare(struct app *app);

/* For commands whose issue has not come: says so and returns EXIT_USAGE. */
int cli_not_yet(const struct app *app, int issue, const char *what);

/* getenv() in the lookup shape config and scenario checks take. */
const char *cli_env_lookup(const char *name, void *ctx);

/*
 * A --since argument: a duration back from now (90m, 24h, 7d) becomes a
 * UTC time prefix; anything else is passed as it is (the store checks
 * it).  0, or -1 when the clock fails.
 */
int cli_since_arg(const char *arg, char *buf, size_t len);

/*
 * A --recent argument (compare, report): a duration of a minute or more
 * into *ms.  -1 when it is one, else the usage error's exit code (said).
 */
int cli_recent_opt(const struct app *app, const char *arg, double *ms);

/* Reset getopt_long's state before a command parses its argv. */
void cli_getopt_reset(void);

/*
 * The whole body of a command whose issue has not come: accepts --help and
 * the common options, then says what is missing (cli_not_yet).
 */
int cli_stub(int argc, char **argv, struct app *app, int issue,
	     const char *what);

int cli_main(int argc, char **argv);

/* The commands (one file each under src/cli/). */
extern const char cmd_run_usage[], cmd_check_usage[], cmd_analyze_usage[],
	cmd_report_usage[], cmd_baseline_usage[], cmd_compare_usage[],
	cmd_pcap_usage[], cmd_serve_usage[], cmd_collect_usage[];
int cmd_run(int argc, char **argv, struct app *app);
int cmd_check(int argc, char **argv, struct app *app);
int cmd_analyze(int argc, char **argv, struct app *app);
int cmd_report(int argc, char **argv, struct app *app);
int cmd_baseline(int argc, char **argv, struct app *app);
int cmd_compare(int argc, char **argv, struct app *app);
int cmd_pcap(int argc, char **argv, struct app *app);
int cmd_serve(int argc, char **argv, struct app *app);
int cmd_collect(int argc, char **argv, struct app *app);

#endif
