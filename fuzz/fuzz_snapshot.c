/* libFuzzer target: the snapshot file reader (src/store/snapshot.c).
 *
 * Snapshot files arrive from peers (InstallSnapshot chunks) and from
 * operators (backups to restore), so every length in them is untrusted.  The
 * input becomes a file (an in-memory one: memfd) and goes through
 * store_snapshot_verify, which parses the header and every record and checks
 * the whole-file checksum.  It must refuse or accept, never crash, and say
 * why when it refuses. */
#define _GNU_SOURCE /* memfd_create (memfile.h) */
#include "store/raftlog.h"

#include "memfile.h"

#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[64], err[512];
	int fd = fuzz_memfile(data, size, path, sizeof path);
	if (fd < 0)
		return 0;
	err[0] = '\0';
	struct store_snap_info info;
	int rc = store_snapshot_verify(path, &info, err, sizeof err);
	if (rc < 0 && !err[0])
		__builtin_trap(); /* a refusal must say why */
	close(fd);
	return 0;
}
