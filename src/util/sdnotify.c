/* sdnotify.c: sd_notify(3) without libsystemd.
 *
 * Why not link libsystemd: the protocol is one datagram of text to a Unix
 * socket named in $NOTIFY_SOCKET, documented as a stable interface
 * (systemd's "interface portability and stability" promise) and spoken the
 * same way by every manager that implements it.  These few lines replace a
 * large library and a dependency the package, the Docker image and every
 * non-systemd host would otherwise carry. */
#include "util/sdnotify.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

bool sdnotify_enabled(void)
{
	const char *path = getenv("NOTIFY_SOCKET");
	return path && *path;
}

int sdnotify_send(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	if (!path || !*path)
		return 0;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t len = strlen(path);
	/* A file system path, or '@' for the abstract namespace (a leading
	 * NUL byte, the name not NUL-terminated).  Anything else (vsock:...)
	 * is not ours to speak. */
	if ((path[0] != '/' && path[0] != '@') || len < 2 || len > sizeof sa.sun_path)
		return -EAFNOSUPPORT;
	memcpy(sa.sun_path, path, len);
	if (path[0] == '@')
		sa.sun_path[0] = '\0';
	socklen_t salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	ssize_t n = sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa, salen);
	int rc = n < 0 ? -errno : 1;
	close(fd);
	return rc;
}

uint64_t sdnotify_watchdog_usec(void)
{
	const char *usec = getenv("WATCHDOG_USEC");
	const char *pid = getenv("WATCHDOG_PID");
	if (!usec || !*usec)
		return 0;
	char *end;
	if (pid && *pid) {
		errno = 0;
		long long p = strtoll(pid, &end, 10);
		if (errno || *end || p != (long long)getpid())
			return 0; /* meant for another process (our parent, say) */
	}
	errno = 0;
	unsigned long long v = strtoull(usec, &end, 10);
	if (errno || *end || usec[0] == '-')
		return 0;
	return (uint64_t)v;
}
