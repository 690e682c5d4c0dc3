/* libFuzzer target: the command decoder (src/util/command.c) and the parsers
 * of special-entry names and payloads.
 *
 * Commands come from the Raft log and from peers (forwarded proposals), so
 * qfs_cmd_decode takes outside bytes: a command that decodes must encode to
 * the very same bytes (one encoding per command) and decode again.  The same
 * input is also read as the name parts of `.cas/REV/NAME` (qfs_rev_parse,
 * qfs_name_check, qfs_name_reserved): whatever it is, a REV is accepted only
 * when its decimal value prints back as the same digits (leading zeros
 * aside). */
#include "quorumfs/command.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void check_rev(const uint8_t *data, size_t size)
{
	uint64_t v;
	if (qfs_rev_parse((const char *)data, size, &v) != 0)
		return;
	char buf[32];
	int n = snprintf(buf, sizeof buf, "%" PRIu64, v);
	size_t skip = 0;
	while (skip + 1 < size && data[skip] == '0')
		skip++;
	if ((size_t)n != size - skip || memcmp(buf, data + skip, (size_t)n) != 0)
		__builtin_trap();
}

static void check_name(const uint8_t *data, size_t size)
{
	if (qfs_name_check((const char *)data, size) != 0)
		return;
	if (size == 0 || size > 255 || memchr(data, '/', size) || memchr(data, 0, size))
		__builtin_trap();
	(void)qfs_name_reserved(1, (const char *)data, size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_rev(data, size);
	check_name(data, size);
	struct qfs_cmd c;
	if (qfs_cmd_decode(data, size, &c) != 0)
		return 0;
	if (qfs_cmd_encoded_size(&c) != size)
		__builtin_trap();
	uint8_t *out = malloc(size);
	if (!out)
		return 0;
	if (qfs_cmd_encode(&c, out, size) != (long)size || memcmp(out, data, size) != 0)
		__builtin_trap();
	struct qfs_cmd d;
	if (qfs_cmd_decode(out, size, &d) != 0)
		__builtin_trap();
	free(out);
	return 0;
}
