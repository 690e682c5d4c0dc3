/* auth: the --secret-file key and the receiver's replay window
 * (docs/wire-format.md "Authentication").  No hand-made cryptography: the
 * key comes from libsodium's BLAKE2b and KDF, the MAC (codec.c) is its
 * crypto_auth. */
#include "net/net.h"

#include "quorumfs/error.h"
#include "util/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NET_KDF_CONTEXT "QFSPEER1" /* crypto_kdf_CONTEXTBYTES (8) characters */
#define NET_KDF_SUBKEY_MAC 1u

_Static_assert(sizeof NET_KDF_CONTEXT - 1 == crypto_kdf_CONTEXTBYTES, "KDF context size");
_Static_assert(NET_AUTH_KEY_SIZE >= crypto_kdf_BYTES_MIN && NET_AUTH_KEY_SIZE <= crypto_kdf_BYTES_MAX,
               "the MAC key is a valid KDF subkey size");

/* ---------------------------------------------------------------- key */

int net_auth_key_derive(const void *secret, size_t len, uint8_t key[NET_AUTH_KEY_SIZE])
{
	if (!secret || len < NET_SECRET_MIN)
		return QFS_EINVAL;
	if (sodium_init() < 0)
		return QFS_EIO;
	uint8_t master[crypto_kdf_KEYBYTES];
	_Static_assert(crypto_kdf_KEYBYTES >= crypto_generichash_BYTES_MIN &&
	                   crypto_kdf_KEYBYTES <= crypto_generichash_BYTES_MAX,
	               "BLAKE2b can make the KDF's master key");
	int rc = crypto_generichash(master, sizeof master, secret, len, NULL, 0);
	if (rc == 0)
		rc = crypto_kdf_derive_from_key(key, NET_AUTH_KEY_SIZE, NET_KDF_SUBKEY_MAC,
		                                NET_KDF_CONTEXT, master);
	sodium_memzero(master, sizeof master);
	return rc == 0 ? 0 : QFS_EIO;
}

/* Text: no control bytes but tab, CR and LF (bytes >= 0x80 count as text:
 * UTF-8).  Random binary secrets are text with negligible probability. */
static bool is_text(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((p[i] < 0x20 && p[i] != '\t' && p[i] != '\r' && p[i] != '\n') || p[i] == 0x7f)
			return false;
	return true;
}

__attribute__((format(printf, 3, 4))) static int key_err(char *err, size_t errlen,
                                                         const char *fmt, ...)
{
	if (errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return QFS_EINVAL;
}

int net_auth_key_load(const char *path, uint8_t key[NET_AUTH_KEY_SIZE], char *err, size_t errlen)
{
	uint8_t buf[NET_SECRET_MAX + 1];
	if (errlen)
		err[0] = '\0';
	if (!path || !*path)
		return key_err(err, errlen, "--secret-file: no file name");
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return key_err(err, errlen, "--secret-file %s: %s", path, strerror(errno));
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return key_err(err, errlen, "--secret-file %s: not a regular file", path);
	}
	size_t n = 0;
	while (n < sizeof buf) {
		ssize_t got = read(fd, buf + n, sizeof buf - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			int e = errno;
			close(fd);
			sodium_memzero(buf, sizeof buf);
			return key_err(err, errlen, "--secret-file %s: %s", path, strerror(e));
		}
		if (got == 0)
			break;
		n += (size_t)got;
	}
	close(fd);
	int rc = 0;
	if (n > NET_SECRET_MAX) {
		rc = key_err(err, errlen, "--secret-file %s: more than %u bytes (a secret, not a data file)",
		             path, NET_SECRET_MAX);
		goto out;
	}
	if (is_text(buf, n))
		while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' ' ||
		             buf[n - 1] == '\t'))
			n--;
	if (n == 0) {
		rc = key_err(err, errlen,
		             "--secret-file %s is empty: make one with `head -c 32 /dev/urandom > FILE`",
		             path);
		goto out;
	}
	if (n < NET_SECRET_MIN) {
		rc = key_err(err, errlen,
		             "--secret-file %s: %zu bytes is too short, at least %u are needed "
		             "(`head -c 32 /dev/urandom > FILE`)",
		             path, n, NET_SECRET_MIN);
		goto out;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO))
		log_warn("--secret-file %s may be read or written by group or others (mode %04o): "
		         "chmod 600 it",
		         path, (unsigned)(st.st_mode & 07777));
	rc = net_auth_key_derive(buf, n, key);
	if (rc < 0 && errlen)
		snprintf(err, errlen, "--secret-file %s: cannot derive the key (libsodium)", path);
out:
	sodium_memzero(buf, sizeof buf);
	return rc;
}

/* ---------------------------------------------------------------- replay window */

void net_replay_init(struct net_replay *r)
{
	memset(r, 0, sizeof *r);
}

static bool bit_get(const struct net_replay_slot *s, uint64_t seq)
{
	uint64_t b = seq % NET_REPLAY_WINDOW;
	return (s->seen[b / 64] >> (b % 64)) & 1u;
}

static void bit_set(struct net_replay_slot *s, uint64_t seq, bool on)
{
	uint64_t b = seq % NET_REPLAY_WINDOW;
	if (on)
		s->seen[b / 64] |= 1ull << (b % 64);
	else
		s->seen[b / 64] &= ~(1ull << (b % 64));
}

static void slot_start(struct net_replay_slot *s, uint64_t id, uint64_t epoch, uint64_t seq)
{
	memset(s->seen, 0, sizeof s->seen);
	s->id = id;
	s->epoch = epoch;
	s->top = seq;
	bit_set(s, seq, true);
}

bool net_replay_accept(struct net_replay *r, uint64_t from, uint64_t epoch, uint64_t seq,
                       const char **why)
{
	const char *dummy;
	if (!why)
		why = &dummy;
	*why = NULL;
	struct net_replay_slot *s = NULL, *victim = &r->slot[0];
	for (size_t i = 0; i < NET_REPLAY_SENDERS && from != 0; i++) {
		struct net_replay_slot *c = &r->slot[i];
		if (c->id == from) {
			s = c;
			break;
		}
		/* The first free slot, else the least recently heard sender. */
		if (victim->id != 0 && (c->id == 0 || c->last_use < victim->last_use))
			victim = c;
	}
	r->clock++;
	if (!s) { /* a sender we do not remember: its window starts here */
		slot_start(victim, from, epoch, seq);
		victim->last_use = r->clock;
		return true;
	}
	if (epoch < s->epoch) {
		*why = "from an earlier run of the sender (older epoch)";
		return false;
	}
	if (epoch > s->epoch) { /* the sender restarted */
		slot_start(s, from, epoch, seq);
		s->last_use = r->clock;
		return true;
	}
	if (seq > s->top) {
		uint64_t d = seq - s->top;
		if (d >= NET_REPLAY_WINDOW)
			memset(s->seen, 0, sizeof s->seen);
		else
			for (uint64_t k = s->top + 1; k < seq; k++)
				bit_set(s, k, false);
		bit_set(s, seq, true);
		s->top = seq;
		s->last_use = r->clock;
		return true;
	}
	if (s->top - seq >= NET_REPLAY_WINDOW) {
		*why = "older than the replay window";
		return false;
	}
	if (bit_get(s, seq)) {
		*why = "seen before";
		return false;
	}
	bit_set(s, seq, true);
	s->last_use = r->clock;
	return true;
}

/* ---------------------------------------------------------------- URLs */

bool net_url_is_tls(const char *url)
{
	return url && strncmp(url, "tls+tcp://", 10) == 0;
}

bool net_url_is_local(const char *url)
{
	if (!url)
		return true;
	if (strncmp(url, "ipc://", 6) == 0 || strncmp(url, "inproc://", 9) == 0 ||
	    strncmp(url, "abstract://", 11) == 0)
		return true;
	const char *h = strstr(url, "://");
	if (!h)
		return false;
	h += 3;
	if (strncmp(h, "127.", 4) == 0 || strncmp(h, "[::1]", 5) == 0)
		return true;
	return strncmp(h, "localhost:", 10) == 0;
}
