/*
 * cap_priv.c: give up rights once the pcap handles are open (DESIGN
 * section 8; contract in capture.h).  An open AF_PACKET socket keeps
 * working without the capability that created it, so everything after
 * capture_open() - scenario parsing, TLS, HTTP, the store - runs without
 * rights, except CAP_NET_RAW alone: a step can reach an address through
 * an interface the capture did not open at the start (a name that
 * resolves to 127.0.0.1 while the resolvers were on eth0), and opening
 * that interface then needs it (capture_add_iface).  Nothing else is
 * kept: no other capability in any set, no ambient or inheritable one,
 * and PR_SET_NO_NEW_PRIVS so an exec'ed helper gets nothing back.
 *
 * The capability sets are set with the raw capset syscall rather than
 * libcap: two 32-bit words per set, version 3, no new dependency.
 */
#include "capture/capture.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

static int to_user(const char *user, struct errbuf *err)
{
	struct passwd pw, *res = NULL;
	char buf[4096];
	int e = getpwnam_r(user, &pw, buf, sizeof(buf), &res);

	if (!res)
		return errbuf_set(err, e ? PE_IO : PE_NOTFOUND,
				  "user %s: %s", user,
				  e ? strerror(e) : "no such user");
	if (initgroups(pw.pw_name, pw.pw_gid) < 0)
		return errbuf_set(err, PE_PERM, "initgroups(%s): %s", user,
				  strerror(errno));
	if (setgid(pw.pw_gid) < 0)
		return errbuf_set(err, PE_PERM, "setgid(%u): %s",
				  (unsigned)pw.pw_gid, strerror(errno));
	/* KEEPCAPS: the permitted set survives the uid change (the
	 * effective one is cleared), so CAP_NET_RAW can be kept below */
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		return errbuf_set(err, PE_IO, "PR_SET_KEEPCAPS: %s",
				  strerror(errno));
	if (setuid(pw.pw_uid) < 0)
		return errbuf_set(err, PE_PERM, "setuid(%u): %s",
				  (unsigned)pw.pw_uid, strerror(errno));
	(void)prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
	if (pw.pw_uid != 0 && setuid(0) == 0)
		return errbuf_set(err, PE_PERM, "still root after setuid(%u)",
				  (unsigned)pw.pw_uid);
	return 0;
}

/* Every capability set down to CAP_NET_RAW (when it was permitted),
 * ambient cleared, PR_SET_NO_NEW_PRIVS. */
static int drop_caps(struct errbuf *err)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct data[2];
	const unsigned word = CAP_NET_RAW / 32;
	const uint32_t raw = 1u << (CAP_NET_RAW % 32);

	memset(data, 0, sizeof(data));
	if (syscall(SYS_capget, &hdr, data) < 0)
		return errbuf_set(err, PE_IO, "capget: %s", strerror(errno));
	bool keep = data[word].permitted & raw;
	memset(data, 0, sizeof(data));
	if (keep)
		data[word].permitted = data[word].effective = raw;
	hdr.version = _LINUX_CAPABILITY_VERSION_3;
	hdr.pid = 0;
	if (syscall(SYS_capset, &hdr, data) < 0)
		return errbuf_set(err, PE_PERM, "capset: %s", strerror(errno));
	/* ambient capabilities would survive an exec: clear them too */
	(void)prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return errbuf_set(err, PE_IO, "PR_SET_NO_NEW_PRIVS: %s",
				  strerror(errno));
	return 0;
}

int cap_priv_drop(const char *user, struct errbuf *err)
{
	int ret = 0;
	if (geteuid() == 0 && user)
		ret = to_user(user, err);
	return ret < 0 ? ret : drop_caps(err);
}
