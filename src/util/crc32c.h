/* crc32c: CRC-32C (Castagnoli) checksums for wire and disk formats.
 * Pure functions; any thread.
 *
 * Chaining: crc32c(crc32c(0, a, la), b, lb) == crc32c(0, a||b, la + lb).
 * Check value: crc32c(0, "123456789", 9) == 0xE3069283. */
#ifndef QFS_CRC32C_H
#define QFS_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* CRC-32C of buf[0..len) continuing from `crc` (0 to start).  buf may be
 * NULL iff len is 0.  Uses the CPU's crc32 instruction when present. */
uint32_t crc32c(uint32_t crc, const void *buf, size_t len);

/* The same, always in portable table-driven C (tests compare the two). */
uint32_t crc32c_sw(uint32_t crc, const void *buf, size_t len);

#endif
