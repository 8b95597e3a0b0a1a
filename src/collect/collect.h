/*
 * collect.h: pulling runs and pcaps from regional probes (DESIGN section
 * 9): the REGIONS.conf file, `probe collect` and `probe pcap fetch`.
 *
 * A regional probe (`probe serve`) answers GET BASE/api/runs?after=SEQ&
 * limit=N with up to N runs as NDJSON (ingest.h), seq ascending, and
 * X-Probe-Next-After: the last seq of the page; GET BASE/api/pcaps/RUN_ID
 * with the file and X-Probe-Sha256.  Both want "Authorization: Bearer
 * TOKEN" and say 401 without it.
 *
 * Collecting is incremental and idempotent.  Per (region, base URL) the
 * store keeps a cursor, the last regional seq taken in.  Each page's runs
 * are saved one transaction each (store_run_save) unless their run_id is
 * already stored; the cursor moves after the page, in its own statement.
 * A crash between the two leaves runs stored and the cursor behind: the
 * next collect fetches that page again and skips those runs by run_id, so
 * nothing is lost or doubled.
 *
 * TLS is always verified (peer and host name; a region may name its own
 * CA file); there is no way to turn that off.  Plain http:// is accepted
 * only for a loopback host, where nothing crosses a network.
 */
#ifndef PROBE_COLLECT_COLLECT_H
#define PROBE_COLLECT_COLLECT_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"
#include "util/err.h"

#define COLLECT_PAGE_RUNS 500           /* limit= of each page */
#define COLLECT_MAX_PAGE (256u << 20)   /* bytes of one page's answer */
#define COLLECT_MAX_TOKEN 4096          /* bytes of a token file */
#define COLLECT_CONNECT_TIMEOUT_S 5L
#define COLLECT_TIMEOUT_S 60L           /* one page, all told */
#define COLLECT_FETCH_TIMEOUT_S 600L    /* one pcap, all told */

/* One line of REGIONS.conf: NAME BASE_URL TOKEN_FILE [ca=FILE]. */
struct collect_region {
	char *name;
	char *base_url;    /* without a trailing slash */
	char *token_file;
	char *ca_file;     /* NULL: the system's CAs */
	unsigned line;
};

struct collect_regions {
	struct collect_region *v;
	size_t n;
};

/*
 * Read REGIONS.conf at path into *out (initialised here; release with
 * collect_regions_release).  Blank lines and # comments are skipped.
 * Errors name "path:line: ...": PE_IO (cannot read it), PE_INVAL (a line
 * of the wrong shape, a URL that is not https:// or loopback http://, a
 * name given twice, no region at all), PE_NOMEM.
 */
int collect_regions_load(const char *path, struct collect_regions *out,
			 struct errbuf *err) PE_WARN_UNUSED;
void collect_regions_release(struct collect_regions *r);

/* The region called name, or NULL. */
const struct collect_region *
collect_regions_find(const struct collect_regions *r, const char *name);

/* What collect_region() did. */
struct collect_stats {
	int64_t added;     /* runs stored */
	int64_t present;   /* runs skipped: their run_id was stored already */
	int64_t cursor;    /* the cursor at the end */
	size_t pages;
};

/*
 * Pull every run of region r past its cursor into st (above).  stats is
 * filled as far as it got, on failure too.  Errors of the region (the
 * store is fine): PE_IO (cannot connect, timeout, an HTTP status other
 * than 200, an answer over COLLECT_MAX_PAGE), PE_PERM (401/403: token
 * refused; or a token file others can read), PE_INVAL (a line that is not
 * a run, seqs out of order).  Errors of the store: PE_STORE, PE_BUSY,
 * PE_NOMEM.
 */
int collect_region(struct store *st, const struct collect_region *r,
		   struct collect_stats *stats, struct errbuf *err)
	PE_WARN_UNUSED;

/*
 * Download run_id's pcap from region r into a new file out_path (created
 * O_EXCL, mode 0600), hashing it on the way, and check the hash against
 * X-Probe-Sha256 (hex written to sha256_hex, 65 bytes).  On any failure
 * the file is removed.  Errors: PE_NOTFOUND (404: no such run or pcap),
 * PE_PERM (401/403, or a token file others can read), PE_INVAL (run_id
 * not URL-safe; the hash differs or is missing), PE_IO (out_path exists
 * or cannot be written, network, another HTTP status), PE_NOMEM.
 */
int collect_pcap_fetch(const struct collect_region *r, const char *run_id,
		       const char *out_path, char sha256_hex[65],
		       struct errbuf *err) PE_WARN_UNUSED;

#endif
