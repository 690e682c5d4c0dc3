/* quorumfs limits: every bound is a named constant, related by static asserts. */
#ifndef QUORUMFS_LIMITS_H
#define QUORUMFS_LIMITS_H

#include <stdint.h>

#define QFS_NAME_MAX 255u                    /* bytes in one path component */
#define QFS_PATH_MAX 4096u                   /* bytes in a full path */
#define QFS_VALUE_MAX_DEFAULT (1024u * 1024u) /* default value limit (EFBIG above) */
#define QFS_VALUE_MAX_HARD (1024u * 1024u)    /* FUSE max_write cannot exceed this */
#define QFS_SYMLINK_MAX QFS_PATH_MAX
#define QFS_ROOT_INO 1u
#define QFS_MAP_SIZE_DEFAULT (1024ull * 1024 * 1024) /* LMDB map: 1 GiB */
#define QFS_MAP_SIZE_MIN (1024ull * 1024)            /* 1 MiB: for ENOSPC tests */
#define QFS_BATCH_MAX 1024u  /* commands applied in one LMDB transaction */

/* An encoded command: a fixed header, two names and a value. */
#define QFS_CMD_HEADER_SIZE 80u /* layout: docs/disk-format.md §2 */
#define QFS_CMD_MAX (QFS_CMD_HEADER_SIZE + 2u * QFS_PATH_MAX + QFS_VALUE_MAX_HARD)

_Static_assert(QFS_VALUE_MAX_DEFAULT <= QFS_VALUE_MAX_HARD, "default value limit above hard limit");
_Static_assert(QFS_NAME_MAX < QFS_PATH_MAX, "name limit must be below path limit");

#endif
