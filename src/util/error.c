#include "quorumfs/error.h"

#include <stddef.h>

struct qfs_error_info {
	int code;
	int err;
	const char *msg;
};

static const struct qfs_error_info qfs_error_table[] = {
#define QFS_X_INFO_(name, e, m) {name, e, m},
	QFS_ERRORS(QFS_X_INFO_)
#undef QFS_X_INFO_
};

static const struct qfs_error_info *qfs_error_find(int rc)
{
	for (size_t i = 0; i < sizeof qfs_error_table / sizeof qfs_error_table[0]; i++)
		if (qfs_error_table[i].code == rc)
			return &qfs_error_table[i];
	return NULL;
}

int qfs_errno(int rc)
{
	if (rc == 0)
		return 0;
	const struct qfs_error_info *e = qfs_error_find(rc);
	return e ? e->err : EIO;
}

const char *qfs_strerror(int rc)
{
	if (rc == 0)
		return "success";
	const struct qfs_error_info *e = qfs_error_find(rc);
	return e ? e->msg : "unknown error";
}

int qfs_from_errno(int err)
{
	if (err < 0)
		err = -err;
	/* First match wins: the table lists the canonical code for each errno first. */
	for (size_t i = 0; i < sizeof qfs_error_table / sizeof qfs_error_table[0]; i++)
		if (qfs_error_table[i].err == err)
			return qfs_error_table[i].code;
	return QFS_EIO;
}
