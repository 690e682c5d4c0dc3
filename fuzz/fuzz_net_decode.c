/* libFuzzer target: the peer message decoder (src/net/codec.c).
 *
 * Each input is decoded twice: as received, and with its header made
 * consistent (magic, version, body_len, crc patched) so that the fuzzer
 * reaches the body parsers instead of stopping at the checksum.  A message
 * that decodes must re-encode to the same size, decode again, and, when it
 * carries no configuration (which the decoder normalizes), re-encode to the
 * very same bytes.  A third pass signs the patched message with a fixed
 * key (NET_FLAG_AUTH, a trailer, a valid MAC) and decodes it with that key,
 * so the authenticated path reaches the body parsers too. */
#include "net/net.h"

#include "util/crc32c.h"

#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t fuzz_key[NET_AUTH_KEY_SIZE] = {1, 2, 3, 4, 5, 6, 7, 8};

static struct net_decoded dec, dec2;

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void check_roundtrip(const uint8_t *buf, size_t len)
{
	size_t size;
	if (net_encoded_size(&dec.msg, &size) != 0 || size != len)
		__builtin_trap();
	uint8_t *out = malloc(size);
	if (!out)
		return;
	size_t got;
	if (net_encode(&dec.msg, out, size, &got) != 0 || got != size)
		__builtin_trap();
	if (net_decode(out, size, &dec2) != 0)
		__builtin_trap();
	const struct raft_conf *c = &dec.msg.u.raft.snap_conf;
	bool has_conf = dec.msg.kind == NET_RAFT && (c->n_voters || c->n_learners);
	if (!has_conf && memcmp(out, buf, len) != 0)
		__builtin_trap();
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (net_decode(data, size, &dec) == 0)
		check_roundtrip(data, size);

	if (size < NET_HDR_SIZE || size > NET_MAX_MSG)
		return 0;
	uint8_t *b = malloc(size);
	if (!b)
		return 0;
	memcpy(b, data, size);
	put32(b, NET_MAGIC);
	b[4] = NET_VERSION;
	b[6] &= (uint8_t)~NET_FLAG_AUTH;
	put32(b + 32, (uint32_t)(size - NET_HDR_SIZE));
	put32(b + NET_HDR_CRC_OFF, 0);
	put32(b + NET_HDR_CRC_OFF, crc32c(0, b, size));
	if (net_decode(b, size, &dec) == 0)
		check_roundtrip(b, size);

	/* Signed: the same header and body, an auth trailer, a good MAC. */
	uint8_t *sb = size + NET_AUTH_SIZE <= NET_MAX_MSG ? malloc(size + NET_AUTH_SIZE) : NULL;
	if (sb) {
		memcpy(sb, b, size);
		sb[6] |= NET_FLAG_AUTH;
		memset(sb + size, 0x5a, 16); /* epoch, seq */
		put32(sb + NET_HDR_CRC_OFF, 0);
		put32(sb + NET_HDR_CRC_OFF, crc32c(0, sb, size + 16));
		crypto_auth(sb + size + 16, sb, size + 16, fuzz_key);
		if (net_decode_auth(sb, size + NET_AUTH_SIZE, fuzz_key, &dec) == 0 &&
		    (!dec.authenticated || dec.auth_seq != 0x5a5a5a5a5a5a5a5aull))
			__builtin_trap();
		free(sb);
	}
	free(b);
	return 0;
}
