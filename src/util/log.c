#include "util/log.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <syslog.h>

/* Process-wide logging sink: set once at start-up, before threads exist. */
static bool use_syslog;
static enum log_level max_level = LOG_LVL_INFO;

void log_to_syslog(const char *ident)
{
	openlog(ident, LOG_PID, LOG_DAEMON);
	use_syslog = true;
}

void log_set_level(enum log_level lvl)
{
	max_level = lvl;
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	static const int prio[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};
	static const char *const tag[] = {"error", "warning", "info", "debug"};
	if (lvl > max_level)
		return;
	va_list ap;
	va_start(ap, fmt);
	if (use_syslog) {
		vsyslog(prio[lvl], fmt, ap);
	} else {
		char line[1024];
		vsnprintf(line, sizeof line, fmt, ap);
		fprintf(stderr, "quorumfs: %s: %s\n", tag[lvl], line);
	}
	va_end(ap);
}
