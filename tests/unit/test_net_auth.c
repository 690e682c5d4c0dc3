/* Unit tests of peer authentication (src/net/auth.c, the MAC in codec.c,
 * and the link's use of both): the key from a --secret-file, MAC'd
 * messages that round-trip, every tampered byte refused before the body is
 * read, the replay window, and links with the same, another or no secret. */
#include "net/net.h"

#include "quorumfs/error.h"
#include "util/crc32c.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <nng/nng.h>
#include <nng/protocol/pipeline0/push.h>

#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define WAIT_MS 10000
#define CLUSTER 77u

static struct net_decoded *dec; /* large: not on the stack */

static const uint8_t secret_a[] = "0123456789abcdef0123456789abcdef-a";
static const uint8_t secret_b[] = "0123456789abcdef0123456789abcdef-b";

static void key_of(const uint8_t *secret, uint8_t key[NET_AUTH_KEY_SIZE])
{
	assert_int_equal(net_auth_key_derive(secret, strlen((const char *)secret), key), 0);
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* ---------------------------------------------------------------- key */

static void test_key_derive(void **state)
{
	(void)state;
	uint8_t a1[NET_AUTH_KEY_SIZE], a2[NET_AUTH_KEY_SIZE], b[NET_AUTH_KEY_SIZE];
	key_of(secret_a, a1);
	key_of(secret_a, a2);
	key_of(secret_b, b);
	assert_memory_equal(a1, a2, sizeof a1);
	assert_memory_not_equal(a1, b, sizeof a1);
	/* The key is not the secret itself. */
	assert_memory_not_equal(a1, secret_a, sizeof a1);
	assert_int_equal(net_auth_key_derive(secret_a, NET_SECRET_MIN - 1, a1), QFS_EINVAL);
	assert_int_equal(net_auth_key_derive(NULL, 40, a1), QFS_EINVAL);
}

static char tmpdir[64];

static const char *file_with(const char *name, const void *data, size_t len, mode_t mode)
{
	static char path[160];
	snprintf(path, sizeof path, "%s/%s", tmpdir, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	if (len)
		assert_int_equal(fwrite(data, 1, len, f), len);
	fclose(f);
	chmod(path, mode);
	return path;
}

static void test_key_load(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof tmpdir, "/tmp/qfs-auth-test-%d", (int)getpid());
	mkdir(tmpdir, 0700);
	uint8_t want[NET_AUTH_KEY_SIZE], got[NET_AUTH_KEY_SIZE];
	char err[512];

	/* Binary: byte for byte, a trailing newline byte included. */
	uint8_t bin[33];
	for (size_t i = 0; i < sizeof bin; i++)
		bin[i] = (uint8_t)(i * 37u);
	bin[32] = '\n';
	assert_int_equal(net_auth_key_derive(bin, sizeof bin, want), 0);
	assert_int_equal(net_auth_key_load(file_with("bin", bin, sizeof bin, 0600), got, err, sizeof err), 0);
	assert_memory_equal(want, got, sizeof want);

	/* Text: trailing white space does not count. */
	key_of(secret_a, want);
	char text[128];
	int tl = snprintf(text, sizeof text, "%s \r\n\n", (const char *)secret_a);
	assert_int_equal(net_auth_key_load(file_with("text", text, (size_t)tl, 0600), got, err, sizeof err), 0);
	assert_memory_equal(want, got, sizeof want);
	/* A group-readable file is accepted (with a warning in the log). */
	assert_int_equal(net_auth_key_load(file_with("text644", text, (size_t)tl, 0644), got, err, sizeof err), 0);
	assert_memory_equal(want, got, sizeof want);

	/* Refused, with a message naming the file. */
	const char *p = file_with("empty", "", 0, 0600);
	assert_int_equal(net_auth_key_load(p, got, err, sizeof err), QFS_EINVAL);
	assert_non_null(strstr(err, "empty"));
	p = file_with("blank", "  \n\n", 4, 0600);
	assert_int_equal(net_auth_key_load(p, got, err, sizeof err), QFS_EINVAL);
	assert_non_null(strstr(err, "empty"));
	p = file_with("short", "short secret\n", 13, 0600);
	assert_int_equal(net_auth_key_load(p, got, err, sizeof err), QFS_EINVAL);
	assert_non_null(strstr(err, "too short"));
	assert_non_null(strstr(err, "short"));
	uint8_t *big = calloc(1, NET_SECRET_MAX + 1);
	assert_non_null(big);
	memset(big, 'x', NET_SECRET_MAX + 1);
	p = file_with("big", big, NET_SECRET_MAX + 1, 0600);
	free(big);
	assert_int_equal(net_auth_key_load(p, got, err, sizeof err), QFS_EINVAL);
	assert_non_null(strstr(err, "more than"));
	assert_int_equal(net_auth_key_load(tmpdir, got, err, sizeof err), QFS_EINVAL);
	assert_non_null(strstr(err, "not a regular file"));
	char missing[160];
	snprintf(missing, sizeof missing, "%s/none", tmpdir);
	assert_int_equal(net_auth_key_load(missing, got, err, sizeof err), QFS_EINVAL);
	assert_non_null(strstr(err, "No such file"));

	const char *names[] = {"bin", "text", "text644", "empty", "blank", "short", "big"};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		char path[160];
		snprintf(path, sizeof path, "%s/%s", tmpdir, names[i]);
		unlink(path);
	}
	rmdir(tmpdir);
}

/* ---------------------------------------------------------------- codec */

static uint8_t *enc_auth(const struct net_msg *m, const struct net_auth *a, size_t *len)
{
	size_t size;
	assert_int_equal(net_encoded_size(m, &size), 0);
	size += a ? NET_AUTH_SIZE : 0;
	uint8_t *buf = malloc(size);
	assert_non_null(buf);
	size_t got;
	assert_int_equal(net_encode_auth(m, a, buf, size, &got), 0);
	assert_int_equal(got, size);
	/* One byte short is refused. */
	assert_int_equal(net_encode_auth(m, a, buf, size - 1, NULL), QFS_EINVAL);
	*len = size;
	return buf;
}

static struct net_msg forward_msg(void)
{
	static const char data[] = "put /a/b = v";
	struct net_msg m = {.kind = NET_FORWARD, .cluster_id = CLUSTER, .from = 5, .to = 9};
	m.u.forward = (struct net_forward){.req_id = 42, .data = data, .len = sizeof data};
	return m;
}

static void test_mac_roundtrip(void **state)
{
	(void)state;
	uint8_t ka[NET_AUTH_KEY_SIZE], kb[NET_AUTH_KEY_SIZE];
	key_of(secret_a, ka);
	key_of(secret_b, kb);
	struct net_msg m = forward_msg();
	struct net_auth a = {.key = ka, .epoch = 1700000000123ull, .seq = 7};
	size_t len, plain_len;
	uint8_t *buf = enc_auth(&m, &a, &len);
	uint8_t *plain = enc_auth(&m, NULL, &plain_len);
	assert_int_equal(len, plain_len + NET_AUTH_SIZE);
	assert_int_equal(buf[6] | buf[7] << 8, NET_FLAG_AUTH);

	assert_int_equal(net_decode_auth(buf, len, ka, dec), 0);
	assert_true(dec->authenticated);
	assert_int_equal(dec->auth_epoch, a.epoch);
	assert_int_equal(dec->auth_seq, a.seq);
	assert_int_equal(dec->msg.kind, NET_FORWARD);
	assert_int_equal(dec->msg.u.forward.req_id, 42);
	assert_int_equal(dec->msg.u.forward.len, m.u.forward.len);
	assert_memory_equal(dec->msg.u.forward.data, m.u.forward.data, m.u.forward.len);

	/* Another secret, or none: refused as auth. */
	assert_int_equal(net_decode_auth(buf, len, kb, dec), QFS_ECORRUPT);
	assert_int_equal(dec->why, NET_DROP_AUTH);
	assert_non_null(strstr(dec->detail, "bad MAC"));
	assert_false(dec->authenticated);
	assert_int_equal(net_decode(buf, len, dec), QFS_ECORRUPT);
	assert_int_equal(dec->why, NET_DROP_AUTH);
	/* A message without a MAC where one is required. */
	assert_int_equal(net_decode_auth(plain, plain_len, ka, dec), QFS_ECORRUPT);
	assert_int_equal(dec->why, NET_DROP_AUTH);
	assert_non_null(strstr(dec->detail, "no MAC"));
	/* ... and the plain one still decodes where none is. */
	assert_int_equal(net_decode(plain, plain_len, dec), 0);
	assert_false(dec->authenticated);

	/* Every single-bit change anywhere is refused, even with the crc made
	 * right again: header (cluster, from, to included), body, epoch, seq,
	 * tag.  Never delivered. */
	uint8_t *b = malloc(len);
	assert_non_null(b);
	for (size_t i = 0; i < len; i++) {
		for (int bit = 0; bit < 8; bit += 3) {
			memcpy(b, buf, len);
			b[i] ^= (uint8_t)(1u << bit);
			if (i < NET_HDR_CRC_OFF || i >= NET_HDR_SIZE) {
				put32(b + NET_HDR_CRC_OFF, 0);
				put32(b + NET_HDR_CRC_OFF, crc32c(0, b, len - NET_AUTH_TAG_SIZE));
			}
			assert_int_equal(net_decode_auth(b, len, ka, dec), QFS_ECORRUPT);
			assert_false(dec->authenticated);
			if (i >= 8 && i < 32) /* cluster, from, to: only the MAC notices */
				assert_int_equal(dec->why, NET_DROP_AUTH);
		}
	}
	/* Truncated anywhere, or a byte more: refused. */
	for (size_t l = 0; l < len; l++)
		assert_int_equal(net_decode_auth(buf, l, ka, dec), QFS_ECORRUPT);
	uint8_t *longer = calloc(1, len + 1);
	assert_non_null(longer);
	memcpy(longer, buf, len);
	assert_int_equal(net_decode_auth(longer, len + 1, ka, dec), QFS_ECORRUPT);
	free(longer);
	/* The flag cleared and the trailer cut off (a downgrade): no MAC. */
	memcpy(b, buf, len);
	b[6] = 0;
	put32(b + NET_HDR_CRC_OFF, 0);
	put32(b + NET_HDR_CRC_OFF, crc32c(0, b, plain_len));
	assert_int_equal(net_decode_auth(b, plain_len, ka, dec), QFS_ECORRUPT);
	assert_int_equal(dec->why, NET_DROP_AUTH);
	/* An unknown flag is garbage. */
	memcpy(b, buf, len);
	b[6] |= 2;
	put32(b + NET_HDR_CRC_OFF, 0);
	put32(b + NET_HDR_CRC_OFF, crc32c(0, b, len - NET_AUTH_TAG_SIZE));
	assert_int_equal(net_decode_auth(b, len, ka, dec), QFS_ECORRUPT);
	assert_int_equal(dec->why, NET_DROP_GARBAGE);

	/* A body that does not parse (a FORWARD whose len lies): without the
	 * key it is refused at the MAC, never parsed; signed by a holder of
	 * the key it is parsed, and refused as garbage. */
	memcpy(b, buf, len);
	put32(b + NET_HDR_SIZE + 8, 0xffffffffu);
	put32(b + NET_HDR_CRC_OFF, 0);
	put32(b + NET_HDR_CRC_OFF, crc32c(0, b, len - NET_AUTH_TAG_SIZE));
	assert_int_equal(net_decode_auth(b, len, ka, dec), QFS_ECORRUPT);
	assert_int_equal(dec->why, NET_DROP_AUTH);
	crypto_auth(b + len - NET_AUTH_TAG_SIZE, b, len - NET_AUTH_TAG_SIZE, ka);
	assert_int_equal(net_decode_auth(b, len, ka, dec), QFS_ECORRUPT);
	assert_int_equal(dec->why, NET_DROP_GARBAGE);
	free(b);
	free(buf);
	free(plain);

	/* Every kind round-trips with a MAC. */
	struct net_msg join = {.kind = NET_JOIN, .cluster_id = 0, .from = 5, .to = 0};
	join.u.join = (struct net_join){.name = "n5", .url = "tcp://127.0.0.1:1"};
	struct net_msg raft = {.kind = NET_RAFT, .cluster_id = CLUSTER, .from = 5, .to = 9};
	raft.u.raft = (struct raft_msg){.type = RAFT_MSG_HEARTBEAT, .from = 5, .to = 9, .term = 3};
	struct net_msg nack = {.kind = NET_FORWARD_NACK, .cluster_id = CLUSTER, .from = 5, .to = 9};
	nack.u.nack = (struct net_nack){.req_id = 1, .rc = QFS_ENOTLEADER};
	const struct net_msg *all[] = {&join, &raft, &nack};
	for (size_t i = 0; i < 3; i++) {
		a.seq = 100 + i;
		buf = enc_auth(all[i], &a, &len);
		assert_int_equal(net_decode_auth(buf, len, ka, dec), 0);
		assert_int_equal(dec->msg.kind, all[i]->kind);
		assert_int_equal(dec->auth_seq, 100 + i);
		free(buf);
	}
	/* No key: the encoder refuses rather than send an unsigned message. */
	struct net_auth nokey = {.key = NULL, .epoch = 1, .seq = 1};
	uint8_t tmp[512];
	assert_int_equal(net_encode_auth(&nack, &nokey, tmp, sizeof tmp, NULL), QFS_EINVAL);
}

/* ---------------------------------------------------------------- replay */

static void test_replay_window(void **state)
{
	(void)state;
	struct net_replay *r = malloc(sizeof *r);
	assert_non_null(r);
	net_replay_init(r);
	const char *why;
	const uint64_t E = 1000;

	for (uint64_t s = 1; s <= 10; s++)
		assert_true(net_replay_accept(r, 5, E, s, &why));
	assert_false(net_replay_accept(r, 5, E, 10, &why)); /* the same again */
	assert_non_null(strstr(why, "seen before"));
	assert_false(net_replay_accept(r, 5, E, 3, &why));
	/* Gaps: a later message first, the skipped ones once each. */
	assert_true(net_replay_accept(r, 5, E, 20, &why));
	assert_true(net_replay_accept(r, 5, E, 15, &why));
	assert_false(net_replay_accept(r, 5, E, 15, &why));
	assert_true(net_replay_accept(r, 5, E, 11, &why));
	/* Another sender has its own window. */
	assert_true(net_replay_accept(r, 6, E, 3, &why));
	assert_false(net_replay_accept(r, 6, E, 3, &why));
	/* Far ahead: the window moves; what fell out of it is refused. */
	assert_true(net_replay_accept(r, 5, E, 20 + NET_REPLAY_WINDOW + 5, &why));
	assert_false(net_replay_accept(r, 5, E, 19, &why));
	assert_non_null(strstr(why, "window"));
	assert_true(net_replay_accept(r, 5, E, 20 + 6, &why)); /* inside, never seen */
	assert_false(net_replay_accept(r, 5, E, 20 + 5, &why)); /* just outside */
	/* Bits of a moved window are cleared: a seq aliasing an old one. */
	assert_true(net_replay_accept(r, 5, E, 20 + NET_REPLAY_WINDOW + 7, &why));
	assert_false(net_replay_accept(r, 5, E, 20 + NET_REPLAY_WINDOW + 7, &why));
	/* The sender restarts: a newer epoch starts over at any seq; the old
	 * epoch is refused from then on. */
	assert_true(net_replay_accept(r, 5, E + 1, 1, &why));
	assert_true(net_replay_accept(r, 5, E + 1, 2, &why));
	assert_false(net_replay_accept(r, 5, E, 100000, &why));
	assert_non_null(strstr(why, "older epoch"));
	assert_false(net_replay_accept(r, 5, E + 1, 1, &why));

	/* More senders than slots: the least recently heard is forgotten, the
	 * others keep their windows. */
	net_replay_init(r);
	for (uint64_t id = 1; id <= NET_REPLAY_SENDERS; id++)
		assert_true(net_replay_accept(r, id, E, 1, NULL));
	for (uint64_t id = 2; id <= NET_REPLAY_SENDERS; id++)
		assert_true(net_replay_accept(r, id, E, 2, NULL));
	assert_true(net_replay_accept(r, 1000, E, 1, NULL)); /* evicts sender 1 */
	for (uint64_t id = 2; id <= NET_REPLAY_SENDERS; id++)
		assert_false(net_replay_accept(r, id, E, 2, NULL));
	assert_true(net_replay_accept(r, 1, E, 1, NULL)); /* forgotten: accepted again */
	free(r);
}

/* ---------------------------------------------------------------- links */

struct rx {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	size_t n;
	uint64_t last_req;
};

static void on_recv(void *ctx, const struct net_decoded *d)
{
	struct rx *rx = ctx;
	pthread_mutex_lock(&rx->mu);
	rx->n++;
	if (d->msg.kind == NET_FORWARD)
		rx->last_req = d->msg.u.forward.req_id;
	pthread_cond_broadcast(&rx->cv);
	pthread_mutex_unlock(&rx->mu);
}

static bool rx_wait(struct rx *rx, size_t want, int ms)
{
	struct timespec dl;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += ms / 1000;
	pthread_mutex_lock(&rx->mu);
	while (rx->n < want)
		if (pthread_cond_timedwait(&rx->cv, &rx->mu, &dl) == ETIMEDOUT)
			break;
	bool ok = rx->n >= want;
	pthread_mutex_unlock(&rx->mu);
	return ok;
}

static size_t rx_count(struct rx *rx)
{
	pthread_mutex_lock(&rx->mu);
	size_t n = rx->n;
	pthread_mutex_unlock(&rx->mu);
	return n;
}

static struct net *mk(const char *listen, uint64_t self, const uint8_t *key, uint64_t epoch,
                      struct rx *rx)
{
	struct net_config cfg = {.listen = listen,
	                         .self_id = self,
	                         .cluster_id = CLUSTER,
	                         .reconnect_min_ms = 10,
	                         .reconnect_max_ms = 100,
	                         .auth_key = key,
	                         .auth_epoch = epoch};
	struct net *n = NULL;
	assert_int_equal(net_new(&n, &cfg, on_recv, rx), 0);
	return n;
}

static uint64_t dropped(struct net *n, int why)
{
	struct net_stats st;
	net_stats(n, &st);
	return st.dropped[why];
}

static bool wait_dropped(struct net *n, int why, uint64_t want)
{
	for (int i = 0; i < WAIT_MS / 10; i++) {
		if (dropped(n, why) >= want)
			return true;
		usleep(10000);
	}
	return false;
}

static void send_fwd(struct net *from, uint64_t to, uint64_t req)
{
	struct net_msg m = forward_msg();
	m.to = to;
	m.u.forward.req_id = req;
	assert_int_equal(net_send(from, &m), 0);
}

static void test_links_with_secrets(void **state)
{
	(void)state;
	uint8_t ka[NET_AUTH_KEY_SIZE], kb[NET_AUTH_KEY_SIZE];
	key_of(secret_a, ka);
	key_of(secret_b, kb);
	char url[96];
	snprintf(url, sizeof url, "ipc:///tmp/qfs-auth-link-%d.sock", (int)getpid());
	unlink(url + strlen("ipc://"));
	struct rx rx_recv = {.n = 0}, rx_other = {.n = 0};
	pthread_mutex_init(&rx_recv.mu, NULL);
	pthread_cond_init(&rx_recv.cv, NULL);
	pthread_mutex_init(&rx_other.mu, NULL);
	pthread_cond_init(&rx_other.cv, NULL);

	struct net *recv = mk(url, 1, ka, 0, &rx_recv);
	struct net *same = mk(NULL, 2, ka, 0, &rx_other);
	struct net *wrong = mk(NULL, 3, kb, 0, &rx_other);
	struct net *none = mk(NULL, 4, NULL, 0, &rx_other);
	assert_int_equal(net_peer_set(same, 1, url), 0);
	assert_int_equal(net_peer_set(wrong, 1, url), 0);
	assert_int_equal(net_peer_set(none, 1, url), 0);

	/* The same secret: delivered, in order. */
	for (uint64_t i = 1; i <= 20; i++)
		send_fwd(same, 1, i);
	assert_true(rx_wait(&rx_recv, 20, WAIT_MS));
	assert_int_equal(rx_recv.last_req, 20);
	/* Another secret, or none: dropped and counted as auth. */
	for (uint64_t i = 1; i <= 10; i++) {
		send_fwd(wrong, 1, 100 + i);
		send_fwd(none, 1, 200 + i);
	}
	assert_true(wait_dropped(recv, NET_DROP_AUTH, 20));
	send_fwd(same, 1, 21); /* still talking to the right one */
	assert_true(rx_wait(&rx_recv, 21, WAIT_MS));
	assert_int_equal(rx_recv.last_req, 21);
	assert_int_equal(rx_count(&rx_recv), 21);

	/* Replays, sent raw: the same authentic bytes twice, and a message
	 * from an older run of sender 2. */
	nng_socket raw;
	assert_int_equal(nng_push0_open(&raw), 0);
	assert_int_equal(nng_dial(raw, url, NULL, 0), 0);
	struct net_msg m = forward_msg();
	m.from = 7;
	m.to = 1;
	m.u.forward.req_id = 700;
	struct net_auth a = {.key = ka, .epoch = 5000, .seq = 1};
	size_t len;
	uint8_t *buf = enc_auth(&m, &a, &len);
	assert_int_equal(nng_send(raw, buf, len, 0), 0);
	assert_true(rx_wait(&rx_recv, 22, WAIT_MS));
	assert_int_equal(rx_recv.last_req, 700);
	assert_int_equal(nng_send(raw, buf, len, 0), 0);
	assert_true(wait_dropped(recv, NET_DROP_REPLAY, 1));
	free(buf);
	a.epoch = 4999; /* an earlier run of node 7 */
	a.seq = 99;
	buf = enc_auth(&m, &a, &len);
	assert_int_equal(nng_send(raw, buf, len, 0), 0);
	assert_true(wait_dropped(recv, NET_DROP_REPLAY, 2));
	free(buf);
	/* Sender 2's current epoch is "now": an epoch of 1 is older. */
	m.from = 2;
	a = (struct net_auth){.key = ka, .epoch = 1, .seq = 1000000};
	buf = enc_auth(&m, &a, &len);
	assert_int_equal(nng_send(raw, buf, len, 0), 0);
	assert_true(wait_dropped(recv, NET_DROP_REPLAY, 3));
	free(buf);
	nng_close(raw);
	assert_int_equal(rx_count(&rx_recv), 22);

	/* A node with a secret does not accept from one without, nor the
	 * reverse: none receives nothing from same. */
	snprintf(url, sizeof url, "ipc:///tmp/qfs-auth-link-%d-b.sock", (int)getpid());
	unlink(url + strlen("ipc://"));
	net_free(none);
	none = mk(url, 4, NULL, 0, &rx_other);
	assert_int_equal(net_peer_set(same, 4, url), 0);
	send_fwd(same, 4, 1);
	assert_true(wait_dropped(none, NET_DROP_AUTH, 1));
	assert_int_equal(rx_count(&rx_other), 0);

	net_free(same);
	net_free(wrong);
	net_free(none);
	net_free(recv);
	unlink(url + strlen("ipc://"));
	snprintf(url, sizeof url, "ipc:///tmp/qfs-auth-link-%d.sock", (int)getpid());
	unlink(url + strlen("ipc://"));
}

static void test_url_checks(void **state)
{
	(void)state;
	assert_true(net_url_is_tls("tls+tcp://10.0.0.1:7400"));
	assert_false(net_url_is_tls("tcp://10.0.0.1:7400"));
	assert_true(net_url_is_local("tcp://127.0.0.1:7400"));
	assert_true(net_url_is_local("tcp://127.1.2.3:7400"));
	assert_true(net_url_is_local("tcp://[::1]:7400"));
	assert_true(net_url_is_local("tcp://localhost:7400"));
	assert_true(net_url_is_local("ipc:///run/q.sock"));
	assert_true(net_url_is_local("inproc://x"));
	assert_false(net_url_is_local("tcp://0.0.0.0:7400"));
	assert_false(net_url_is_local("tcp://10.0.0.1:7400"));
	assert_false(net_url_is_local("tcp://[::]:7400"));
	assert_false(net_url_is_local("tls+tcp://0.0.0.0:7400"));
	assert_false(net_url_is_local("tcp://127example.com:1"));

	/* TLS settings and URLs must agree. */
	struct rx rx = {.n = 0};
	struct net *n = NULL;
	struct net_config cfg = {.listen = "tls+tcp://127.0.0.1:0", .self_id = 1};
	assert_int_equal(net_new(&n, &cfg, on_recv, &rx), QFS_EINVAL);
	cfg = (struct net_config){.listen = "tcp://127.0.0.1:0", .self_id = 1, .tls_cert = "/x"};
	assert_int_equal(net_new(&n, &cfg, on_recv, &rx), QFS_EINVAL);
	cfg = (struct net_config){.listen = "tcp://127.0.0.1:0", .self_id = 1};
	assert_int_equal(net_new(&n, &cfg, on_recv, &rx), 0);
	assert_int_equal(net_peer_set(n, 2, "tls+tcp://127.0.0.1:1"), QFS_EINVAL);
	net_free(n);
	char err[256];
	assert_int_equal(net_tls_check("/nonexistent.crt", "/nonexistent.key", "/nonexistent.ca", err,
	                               sizeof err),
	                 QFS_EINVAL);
	assert_non_null(strstr(err, "--tls-cert /nonexistent.crt"));
	assert_int_equal(net_tls_check("/x", NULL, "/y", err, sizeof err), QFS_EINVAL);
	assert_non_null(strstr(err, "go together"));
}

int main(void)
{
	dec = malloc(sizeof *dec);
	if (!dec)
		return 1;
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_key_derive),       cmocka_unit_test(test_key_load),
	    cmocka_unit_test(test_mac_roundtrip),    cmocka_unit_test(test_replay_window),
	    cmocka_unit_test(test_links_with_secrets), cmocka_unit_test(test_url_checks),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	free(dec);
	return rc;
}
