/* sdnotify: the service manager's readiness and watchdog protocol
 * (sd_notify(3)), for quorumfs run by systemd with Type=notify.
 *
 * Owns nothing: every call reads the environment ($NOTIFY_SOCKET,
 * $WATCHDOG_USEC, $WATCHDOG_PID), which must not change while the daemon
 * runs (nothing of ours calls setenv/unsetenv).  Any thread may call. */
#ifndef QFS_SDNOTIFY_H
#define QFS_SDNOTIFY_H

#include <stdbool.h>
#include <stdint.h>

/* Is a service manager listening ($NOTIFY_SOCKET set)? */
bool sdnotify_enabled(void);

/* Sends one datagram of newline-separated assignments ("READY=1",
 * "STOPPING=1", "WATCHDOG=1", "STATUS=...") to $NOTIFY_SOCKET.  Returns 1
 * when sent, 0 when no manager listens ($NOTIFY_SOCKET unset: never an
 * error), or a negative errno. */
int sdnotify_send(const char *state);

/* The watchdog period the manager asked of this process, in microseconds:
 * $WATCHDOG_USEC when set and $WATCHDOG_PID is unset or this process's id;
 * else 0 (no pings).  Ping at half of it. */
uint64_t sdnotify_watchdog_usec(void);

#endif
