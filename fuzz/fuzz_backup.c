/* libFuzzer target: the backup file reader (src/store/backup.c), the file
 * an operator hands to `quorumctl snapshot verify/restore`.
 *
 * Each input is checked twice: as it is, and made self-consistent (the
 * content length in the header set to what the file holds, the trailing
 * BLAKE2b-256 recomputed) so that the fuzzer gets past the checksum into the
 * embedded snapshot's records.  Either way the reader must accept or refuse,
 * never crash, and say why when it refuses. */
#define _GNU_SOURCE /* memfd_create (memfile.h) */
#include "store/backup.h"

#include <sodium.h>
#include "memfile.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HDR 96u

static void verify(const uint8_t *data, size_t size)
{
	char path[64], err[512];
	int fd = fuzz_memfile(data, size, path, sizeof path);
	if (fd < 0)
		return;
	err[0] = '\0';
	struct store_backup_info info;
	if (store_backup_verify(path, &info, err, sizeof err) < 0 && !err[0])
		__builtin_trap(); /* a refusal must say why */
	close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	verify(data, size);
	if (size < HDR + STORE_BACKUP_DIGEST)
		return 0;
	uint8_t *fixed = malloc(size);
	if (!fixed)
		return 0;
	memcpy(fixed, data, size);
	uint64_t content = size - HDR - STORE_BACKUP_DIGEST;
	for (int i = 0; i < 8; i++)
		fixed[64 + i] = (uint8_t)(content >> (8 * i));
	crypto_generichash(fixed + size - STORE_BACKUP_DIGEST, STORE_BACKUP_DIGEST, fixed,
			   size - STORE_BACKUP_DIGEST, NULL, 0);
	verify(fixed, size);
	free(fixed);
	return 0;
}
