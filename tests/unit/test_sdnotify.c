/* Unit tests of the sd_notify(3) client (src/util/sdnotify.c): a datagram to
 * a socket path or an abstract '@' name, nothing (and no error) without
 * $NOTIFY_SOCKET, refusals of addresses it cannot speak to, and when the
 * watchdog is meant for this process. */
#include "util/sdnotify.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* A bound datagram socket at `name` (a path, or '@' + abstract name). */
static int listener(const char *name)
{
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t len = strlen(name);
	assert_true(len < sizeof sa.sun_path);
	memcpy(sa.sun_path, name, len);
	if (name[0] == '@')
		sa.sun_path[0] = '\0';
	else
		unlink(name);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa,
			      (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)), 0);
	return fd;
}

static void expect_datagram(int fd, const char *want)
{
	char buf[256];
	ssize_t n = recv(fd, buf, sizeof buf - 1, MSG_DONTWAIT);
	assert_true(n >= 0);
	buf[n] = '\0';
	assert_string_equal(buf, want);
}

static void test_unset_is_silent(void **state)
{
	(void)state;
	unsetenv("NOTIFY_SOCKET");
	assert_false(sdnotify_enabled());
	assert_int_equal(sdnotify_send("READY=1"), 0);
	setenv("NOTIFY_SOCKET", "", 1);
	assert_false(sdnotify_enabled());
	assert_int_equal(sdnotify_send("READY=1"), 0);
}

static void test_path_socket(void **state)
{
	(void)state;
	char path[64];
	snprintf(path, sizeof path, "/tmp/qfs-sdnotify-%d.sock", (int)getpid());
	int fd = listener(path);
	setenv("NOTIFY_SOCKET", path, 1);
	assert_true(sdnotify_enabled());
	assert_int_equal(sdnotify_send("READY=1\nSTATUS=serving /cluster"), 1);
	expect_datagram(fd, "READY=1\nSTATUS=serving /cluster");
	assert_int_equal(sdnotify_send("WATCHDOG=1"), 1);
	expect_datagram(fd, "WATCHDOG=1");
	close(fd);
	unlink(path);
	/* The manager went away: an error to log, never a crash. */
	assert_int_equal(sdnotify_send("WATCHDOG=1"), -ENOENT);
	unsetenv("NOTIFY_SOCKET");
}

static void test_abstract_socket(void **state)
{
	(void)state;
	char name[64];
	snprintf(name, sizeof name, "@qfs-sdnotify-test-%d", (int)getpid());
	int fd = listener(name);
	setenv("NOTIFY_SOCKET", name, 1);
	assert_int_equal(sdnotify_send("STOPPING=1"), 1);
	expect_datagram(fd, "STOPPING=1");
	close(fd);
	unsetenv("NOTIFY_SOCKET");
}

static void test_unusable_addresses(void **state)
{
	(void)state;
	const char *bad[] = {"relative.sock", "vsock:2:1234", "@", "/"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		setenv("NOTIFY_SOCKET", bad[i], 1);
		assert_int_equal(sdnotify_send("READY=1"), -EAFNOSUPPORT);
	}
	char longname[200];
	memset(longname, 'a', sizeof longname - 1);
	longname[0] = '/';
	longname[sizeof longname - 1] = '\0';
	setenv("NOTIFY_SOCKET", longname, 1);
	assert_int_equal(sdnotify_send("READY=1"), -EAFNOSUPPORT);
	unsetenv("NOTIFY_SOCKET");
}

static void test_watchdog_usec(void **state)
{
	(void)state;
	char me[32];
	snprintf(me, sizeof me, "%d", (int)getpid());
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	assert_int_equal(sdnotify_watchdog_usec(), 0);
	setenv("WATCHDOG_USEC", "400000", 1);
	assert_int_equal(sdnotify_watchdog_usec(), 400000); /* no WATCHDOG_PID: ours */
	setenv("WATCHDOG_PID", me, 1);
	assert_int_equal(sdnotify_watchdog_usec(), 400000);
	setenv("WATCHDOG_PID", "1", 1); /* another process's */
	assert_int_equal(sdnotify_watchdog_usec(), 0);
	setenv("WATCHDOG_PID", "12x", 1);
	assert_int_equal(sdnotify_watchdog_usec(), 0);
	setenv("WATCHDOG_PID", me, 1);
	const char *garbage[] = {"", "-5", "10s", "abc", "99999999999999999999999"};
	for (size_t i = 0; i < sizeof garbage / sizeof garbage[0]; i++) {
		setenv("WATCHDOG_USEC", garbage[i], 1);
		assert_int_equal(sdnotify_watchdog_usec(), 0);
	}
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unset_is_silent),
		cmocka_unit_test(test_path_socket),
		cmocka_unit_test(test_abstract_socket),
		cmocka_unit_test(test_unusable_addresses),
		cmocka_unit_test(test_watchdog_usec),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
