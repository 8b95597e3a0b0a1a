/* lockfile.c: see lockfile.h. */
#include "util/lockfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* mkdir -p with mode for the new parts. */
static int mkdirs(const char *dir, mode_t mode)
{
	char buf[4096];
	if (snprintf(buf, sizeof(buf), "%s", dir) >= (int)sizeof(buf))
		return -1;
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, mode) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return mkdir(buf, mode) < 0 && errno != EEXIST ? -1 : 0;
}

int lockfile_take(const char *dir, const char *name, struct errbuf *err)
{
	char path[4096];
	if (mkdirs(dir, 0700) < 0)
		return errbuf_set(err, PE_IO, "%s: %s", dir, strerror(errno));
	if (snprintf(path, sizeof(path), "%s/%s.lock", dir, name) >=
	    (int)sizeof(path))
		return errbuf_set(err, PE_IO, "%s: path too long", dir);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return errbuf_set(err, PE_IO, "%s: %s", path, strerror(errno));
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int e = errno;
		close(fd);
		if (e == EWOULDBLOCK)
			return errbuf_set(err, PE_BUSY,
					  "%s is held by another run", path);
		return errbuf_set(err, PE_IO, "%s: %s", path, strerror(e));
	}
	return fd;
}
