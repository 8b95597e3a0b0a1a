/*
 * cap_iface.c: which interface a destination's packets cross, so the
 * capture opens handles on those and not on "any" (capture.h).
 *
 * Asking the kernel beats reading routing tables ourselves: connect() on
 * a UDP socket runs the real route lookup (policy rules, VRFs, source
 * address selection included) and sends nothing; getsockname() then says
 * which local address it picked, and getifaddrs() which interface owns
 * it.  Loopback destinations are answered by the interface flagged
 * IFF_LOOPBACK, since 127.0.0.2 is reached from 127.0.0.1 and owned by no
 * address entry of its own.
 */
#include "capture/capture.h"

#include <errno.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static bool is_loopback(const struct dec_addr *a)
{
	static const uint8_t v6lo[16] = { [15] = 1 };
	if (a->family == 4)
		return a->a[0] == 127;
	return memcmp(a->a, v6lo, 16) == 0;
}

/* The address bytes of an AF_INET/AF_INET6 sockaddr (NULL otherwise). */
static const void *addr_of(const struct sockaddr *sa, size_t *len)
{
	if (sa->sa_family == AF_INET) {
		*len = 4;
		return &((const struct sockaddr_in *)sa)->sin_addr;
	}
	if (sa->sa_family == AF_INET6) {
		*len = 16;
		return &((const struct sockaddr_in6 *)sa)->sin6_addr;
	}
	return NULL;
}

static void set_name(char name[IFNAMSIZ], const char *s)
{
	snprintf(name, IFNAMSIZ, "%s", s);
}

/* The loopback interface's name ("lo" on Linux). */
static int loopback_name(char name[IFNAMSIZ], struct errbuf *err)
{
	struct ifaddrs *ifa, *i;
	int ret = PE_NOTFOUND;

	if (getifaddrs(&ifa) < 0)
		return errbuf_set(err, PE_IO, "getifaddrs: %s",
				  strerror(errno));
	for (i = ifa; i; i = i->ifa_next)
		if (i->ifa_name && (i->ifa_flags & IFF_LOOPBACK)) {
			set_name(name, i->ifa_name);
			ret = 0;
			break;
		}
	freeifaddrs(ifa);
	if (ret)
		errbuf_set(err, ret, "no loopback interface");
	return ret;
}

int cap_iface_for(const struct dec_addr *dst, char name[IFNAMSIZ],
		  struct errbuf *err)
{
	struct sockaddr_storage ss = { 0 }, local = { 0 };
	socklen_t sl, ll = sizeof(local);
	struct ifaddrs *ifa = NULL, *i;
	char abuf[64];
	int fd = -1, ret;

	if (dst->family != 4 && dst->family != 6)
		return errbuf_set(err, PE_INVAL, "address without a family");
	if (is_loopback(dst))
		return loopback_name(name, err);
	if (dst->family == 4) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		s4->sin_family = AF_INET;
		s4->sin_port = htons(9); /* any port: nothing is sent */
		memcpy(&s4->sin_addr, dst->a, 4);
		sl = sizeof(*s4);
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(9);
		memcpy(&s6->sin6_addr, dst->a, 16);
		sl = sizeof(*s6);
	}
	dec_addr_str(dst, abuf, sizeof(abuf));
	fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		ret = errbuf_set(err, PE_IO, "socket: %s", strerror(errno));
		goto out;
	}
	if (connect(fd, (struct sockaddr *)&ss, sl) < 0) {
		int e = errno;
		ret = errbuf_set(err, e == ENETUNREACH || e == EHOSTUNREACH ?
			PE_NOTFOUND : PE_IO, "no route to %s: %s", abuf,
			strerror(e));
		goto out;
	}
	if (getsockname(fd, (struct sockaddr *)&local, &ll) < 0) {
		ret = errbuf_set(err, PE_IO, "getsockname: %s",
				 strerror(errno));
		goto out;
	}
	if (getifaddrs(&ifa) < 0) {
		ret = errbuf_set(err, PE_IO, "getifaddrs: %s",
				 strerror(errno));
		goto out;
	}
	size_t alen;
	const void *laddr = addr_of((struct sockaddr *)&local, &alen);
	ret = PE_NOTFOUND;
	for (i = ifa; i && laddr; i = i->ifa_next) {
		size_t n;
		const void *a = i->ifa_addr ? addr_of(i->ifa_addr, &n) : NULL;
		if (i->ifa_name && a && i->ifa_addr->sa_family ==
		    local.ss_family && !memcmp(a, laddr, alen)) {
			set_name(name, i->ifa_name);
			ret = 0;
			break;
		}
	}
	if (ret) {
		struct dec_addr la = { .family = dst->family };
		if (laddr)
			memcpy(la.a, laddr, alen);
		if (is_loopback(&la))
			ret = loopback_name(name, err);
		else
			errbuf_set(err, ret, "%s: no interface owns the local "
					     "address", abuf);
	}
out:
	if (ifa)
		freeifaddrs(ifa);
	if (fd >= 0)
		close(fd);
	return ret;
}
