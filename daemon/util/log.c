// SPDX-License-Identifier: Apache-2.0
/* log: stderr logger with journald priority prefixes. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "util/log.h"

static enum log_level max_level = LOG_LVL_INFO;

void log_set_level(enum log_level lvl)
{
	max_level = lvl;
}

enum log_level log_get_level(void)
{
	return max_level;
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	static int journal = -1;
	char line[2048];
	va_list ap;

	if (lvl > max_level)
		return;
	if (journal < 0)
		journal = getenv("JOURNAL_STREAM") != NULL;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (journal) {
		fprintf(stderr, "<%d>%s\n", lvl, line);
		return;
	}
	switch (lvl) {
	case LOG_LVL_ERR:
		fprintf(stderr, "profd: error: %s\n", line);
		break;
	case LOG_LVL_WARN:
		fprintf(stderr, "profd: warning: %s\n", line);
		break;
	default:
		fprintf(stderr, "profd: %s\n", line);
		break;
	}
}
