/*
 * cap_priv.c: give up capture rights once the pcap handles are open
 * (DESIGN section 8; contract in capture.h).  An open AF_PACKET socket
 * keeps working without the capability that created it, so everything
 * after capture_open() - scenario parsing, TLS, HTTP, the store - runs
 * unprivileged.
 *
 * The capability sets are cleared with the raw capset syscall rather than
 * libcap: two 32-bit words per set, version 3, no new dependency.
 * PR_SET_NO_NEW_PRIVS then keeps an exec'ed helper from getting rights
 * back through file capabilities or a setuid bit.
 */
#include "capture/capture.h"

#include <errno.h>
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
	if (setuid(pw.pw_uid) < 0)
		return errbuf_set(err, PE_PERM, "setuid(%u): %s",
				  (unsigned)pw.pw_uid, strerror(errno));
	/* a uid change from 0 without KEEPCAPS clears the capabilities */
	if (pw.pw_uid != 0 && setuid(0) == 0)
		return errbuf_set(err, PE_PERM, "still root after setuid(%u)",
				  (unsigned)pw.pw_uid);
	return 0;
}

static int drop_caps(struct errbuf *err)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct data[2];
	bool any = false;

	memset(data, 0, sizeof(data));
	if (syscall(SYS_capget, &hdr, data) < 0)
		return errbuf_set(err, PE_IO, "capget: %s", strerror(errno));
	for (int i = 0; i < 2; i++)
		any |= data[i].effective || data[i].permitted ||
		       data[i].inheritable;
	if (!any)
		return 0; /* nothing to give up */
	memset(data, 0, sizeof(data));
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
	if (geteuid() == 0 && user) {
		int ret = to_user(user, err);
		if (ret == 0 && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
			ret = errbuf_set(err, PE_IO, "PR_SET_NO_NEW_PRIVS: %s",
					 strerror(errno));
		return ret;
	}
	return drop_caps(err);
}
