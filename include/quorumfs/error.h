/* quorumfs error codes: one table for every module.
 *
 * Functions return 0 on success or a negative QFS_E* code.  Each code names
 * the errno a user should see when the error reaches the filesystem boundary;
 * adapters (LMDB, nng, libc) translate their own codes exactly once.
 */
#ifndef QUORUMFS_ERROR_H
#define QUORUMFS_ERROR_H

#include <errno.h>

/* X(name, errno, message) */
#define QFS_ERRORS(X)                                                      \
	X(QFS_ENOENT, ENOENT, "no such key")                               \
	X(QFS_EEXIST, EEXIST, "key exists")                                \
	X(QFS_ENOTDIR, ENOTDIR, "not a directory")                         \
	X(QFS_EISDIR, EISDIR, "is a directory")                            \
	X(QFS_ENOTEMPTY, ENOTEMPTY, "directory not empty")                 \
	X(QFS_EINVAL, EINVAL, "invalid argument")                          \
	X(QFS_EPERM, EPERM, "reserved name")                               \
	X(QFS_EACCES, EACCES, "permission denied")                         \
	X(QFS_EFBIG, EFBIG, "value too large")                             \
	X(QFS_ENAMETOOLONG, ENAMETOOLONG, "name or path too long")         \
	X(QFS_ENOSPC, ENOSPC, "store full")                                \
	X(QFS_EIO, EIO, "I/O error")                                       \
	X(QFS_ENOMEM, ENOMEM, "out of memory")                             \
	X(QFS_ECANCELED, ECANCELED, "revision mismatch")                   \
	X(QFS_EAGAIN, EAGAIN, "try again")                                 \
	X(QFS_EROFS, EROFS, "no quorum: change not proposed")              \
	X(QFS_ETIMEDOUT, ETIMEDOUT, "timed out: outcome unknown")          \
	X(QFS_ECORRUPT, EIO, "corrupt or malformed data")                  \
	X(QFS_ESHUTDOWN, ESHUTDOWN, "shutting down")                       \
	X(QFS_ENOTLEADER, EAGAIN, "not the leader")                        \
	X(QFS_EXDEV, EXDEV, "cross-device link")                           \
	X(QFS_ENODATA, ENODATA, "no such attribute")                       \
	X(QFS_ERANGE, ERANGE, "buffer too small")                          \
	X(QFS_ELOOP, ELOOP, "too many levels of symbolic links")           \
	X(QFS_EINTR, EINTR, "interrupted")                                 \
	X(QFS_EADDRINUSE, EADDRINUSE, "address already in use")

enum qfs_error {
	QFS_OK = 0,
	QFS_ERROR_BASE_ = -1000,
#define QFS_X_ENUM_(name, err, msg) name,
	QFS_ERRORS(QFS_X_ENUM_)
#undef QFS_X_ENUM_
	QFS_ERROR_END_
};

/* The errno a user sees for `rc` (0 for 0; EIO for unknown codes). */
int qfs_errno(int rc);
/* A static, human-readable message for `rc`. */
const char *qfs_strerror(int rc);
/* The code for a plain errno (e.g. from libc); QFS_EIO when it has none. */
int qfs_from_errno(int err);

#endif
