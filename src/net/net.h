/* net: the peer wire codec and the nng peer links.
 *
 * Owns: the wire format of every message between quorumfs nodes
 * (docs/wire-format.md), one pull0 listening socket, one push0 socket per
 * peer (dialed in the background, reconnecting with backoff), and the
 * counters of what was sent, received and dropped.
 *
 * Three parts:
 *  - the codec (codec.c): pure functions, no nng, no allocation, any thread.
 *    net_decode_auth() is the only reader of outside bytes; it checks every
 *    length before reading, the MAC before the body, and is fuzzed
 *    (fuzz/fuzz_net_decode.c).
 *  - peer authentication (auth.c): the --secret-file key and the replay
 *    window (pure but for net_auth_key_load, which reads the file).
 *  - the links (link.c): struct net, on nng, optionally over TLS.
 *
 * Threads: net_send*, net_peer_*, net_set_cluster_id and net_stats may be
 * called from any thread (one internal mutex; nothing blocks: a send either
 * queues the message or drops it).  The receive callback runs on an nng
 * thread, one call at a time per struct net.  net_free must not be called
 * from inside the callback, nor while another thread is inside a net_* call.
 *
 * Errors: 0 or a negative QFS_E* code (include/quorumfs/error.h); NNG_E*
 * codes are translated in one place (link.c: net_err).
 */
#ifndef QFS_NET_H
#define QFS_NET_H

#include "raft/raft.h"

#include "quorumfs/limits.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---------------------------------------------------------------- wire limits */

#define NET_MAGIC 0x57534651u /* bytes "QFSW" on the wire (u32 little-endian) */
#define NET_VERSION 1u
#define NET_FLAG_AUTH 0x0001u          /* an auth trailer follows the body */
#define NET_FLAGS_KNOWN NET_FLAG_AUTH /* any other bit is rejected */

/* Fixed parts (bytes); see docs/wire-format.md for the layouts. */
#define NET_HDR_SIZE 40u           /* magic..crc */
#define NET_HDR_CRC_OFF 36u        /* the crc is the header's last field */
#define NET_RAFT_FIXED 72u         /* 4 x u8, n_entries u32, 8 x u64 */
#define NET_ENTRY_HDR 21u          /* term u64, index u64, type u8, len u32 */
#define NET_SNAP_FIXED 30u         /* index, term, offset u64, conf_len u16, snap_len u32 */
#define NET_FORWARD_FIXED 12u      /* req_id u64, len u32 */
#define NET_NACK_SIZE 12u          /* req_id u64, rc i32 */
#define NET_CONF_FORWARD_FIXED 21u /* req_id u64, type u8, node u64, ctx_len u32 */
#define NET_JOIN_FIXED 4u          /* name_len u16, url_len u16 */
#define NET_LIVENESS_FIXED 2u      /* count u16 */
#define NET_MEMBER_FIXED 43u       /* LIVENESS record: 3 x u64, 3 x u32, u8, 3 x u16 */

#define NET_MAX_NAME QFS_NAME_MAX             /* JOIN: node name bytes */
#define NET_MAX_URL 512u                      /* JOIN and peer addresses */
#define NET_MAX_PROPOSAL RAFT_MAX_ENTRY_BYTES /* FORWARD: a proposal is a future entry */
#define NET_MAX_VERSION 31u                   /* LIVENESS: a version string's bytes */
#define NET_MAX_MEMBERS 32u                   /* LIVENESS: records in one table (NET_MAX_PEERS) */
#define NET_MEMBER_MAX (NET_MEMBER_FIXED + NET_MAX_NAME + NET_MAX_URL + NET_MAX_VERSION)

/* The largest body: an APP with every entry at its cap, or (the same bound
 * covers both) a SNAP chunk with a full configuration. */
#define NET_RAFT_BODY_MAX                                                                          \
	(NET_RAFT_FIXED + RAFT_MAX_MSG_ENTRIES * NET_ENTRY_HDR + RAFT_MAX_MSG_BYTES +              \
	 NET_SNAP_FIXED + RAFT_CONF_ENCODED_MAX + RAFT_SNAP_CHUNK)
#define NET_MAX_BODY NET_RAFT_BODY_MAX
/* The auth trailer of a NET_FLAG_AUTH message (--secret-file): epoch u64,
 * seq u64, then an HMAC-SHA-512-256 tag (libsodium crypto_auth) of every
 * byte before the tag.  See docs/wire-format.md "Authentication". */
#define NET_AUTH_KEY_SIZE 32u /* crypto_auth_KEYBYTES */
#define NET_AUTH_TAG_SIZE 32u /* crypto_auth_BYTES */
#define NET_AUTH_SIZE (16u + NET_AUTH_TAG_SIZE)
#define NET_MAX_MSG (NET_HDR_SIZE + NET_MAX_BODY + NET_AUTH_SIZE) /* one nng message, all in */

_Static_assert(NET_HDR_CRC_OFF + 4u == NET_HDR_SIZE, "crc is the last header field");
_Static_assert(RAFT_CONF_ENCODED_MAX <= UINT16_MAX, "conf_len is a u16");
_Static_assert(RAFT_SNAP_CHUNK <= NET_MAX_BODY, "a snapshot chunk must fit a message");
_Static_assert(NET_FORWARD_FIXED + NET_MAX_PROPOSAL <= NET_MAX_BODY,
               "a forwarded proposal must fit a message");
_Static_assert(NET_CONF_FORWARD_FIXED + RAFT_MAX_CC_CONTEXT <= NET_MAX_BODY,
               "a forwarded conf change must fit a message");
_Static_assert(NET_JOIN_FIXED + NET_MAX_NAME + NET_MAX_URL <= NET_MAX_BODY,
               "a join request must fit a message");
_Static_assert(NET_MAX_NAME <= UINT16_MAX && NET_MAX_URL <= UINT16_MAX,
               "join strings have u16 lengths");
_Static_assert(NET_LIVENESS_FIXED + NET_MAX_MEMBERS * NET_MEMBER_MAX <= NET_MAX_BODY,
               "a full liveness table must fit a message");
_Static_assert(NET_MAX_MEMBERS <= UINT16_MAX, "the member count is a u16");
_Static_assert(NET_MAX_MSG <= UINT32_MAX, "body_len is a u32");
_Static_assert(NET_MAX_MSG < (64u << 20), "a peer message stays well below 64 MiB");

/* ---------------------------------------------------------------- link limits */

#define NET_MAX_PEERS 32u           /* peers with an id (net_peer_set) */
#define NET_MAX_URL_LINKS 4u        /* address-only links (net_send_url), LRU */
#define NET_DEFAULT_SEND_QUEUE 128u /* messages buffered per peer (0 in config) */
#define NET_MAX_SEND_QUEUE 8192u    /* nng's cap on NNG_OPT_SENDBUF */
#define NET_DEFAULT_RECONNECT_MIN_MS 100u
#define NET_DEFAULT_RECONNECT_MAX_MS 2000u
#define NET_RECV_SLACK                                                                             \
	(64u * 1024)                    /* accepted above NET_MAX_MSG only to count                \
	                                   it as "too big"; nng cuts larger ones */
#define NET_DROP_LOG_INTERVAL_MS 60000u /* one log line per drop reason per minute */
#define NET_TLS_POLL_MS 1000u            /* TLS handshake failure counters read from nng */

/* --secret-file: the file's size bounds, and the replay defence. */
#define NET_SECRET_MIN 32u        /* bytes (after trimming a text secret) */
#define NET_SECRET_MAX 4096u      /* a secret, not a data file */
#define NET_REPLAY_WINDOW 1024u   /* sequence numbers below the highest seen that may
                                     still arrive (once): reordering across links */
#define NET_REPLAY_SENDERS 64u    /* senders whose window is kept (least recently
                                     heard forgotten first) */

_Static_assert(NET_MAX_PEERS >= RAFT_MAX_NODES, "every member must fit as a peer");
_Static_assert(NET_MAX_MEMBERS == NET_MAX_PEERS, "a liveness table holds every peer");
_Static_assert(NET_DEFAULT_SEND_QUEUE >= RAFT_DEFAULT_MAX_INFLIGHT,
               "a peer's queue must hold the default inflight window");
_Static_assert(NET_DEFAULT_SEND_QUEUE <= NET_MAX_SEND_QUEUE, "default above cap");
_Static_assert(NET_DEFAULT_RECONNECT_MIN_MS <= NET_DEFAULT_RECONNECT_MAX_MS,
               "reconnect backoff bounds inverted");
_Static_assert(NET_REPLAY_WINDOW % 64u == 0, "the replay window is a whole number of u64 words");
_Static_assert(NET_REPLAY_SENDERS >= 2 * NET_MAX_PEERS, "room for every peer and some joiners");

/* ---------------------------------------------------------------- messages */

enum net_kind {
	NET_RAFT = 1,         /* a struct raft_msg */
	NET_FORWARD = 2,      /* follower -> leader: a proposal to append */
	NET_FORWARD_NACK = 3, /* leader -> follower: that proposal was not appended */
	NET_CONF_FORWARD = 4, /* a membership change to propose (quorumctl, JOIN) */
	NET_JOIN = 5,         /* a new node asks a member to add it as a learner */
	NET_LIVENESS = 6,     /* members/: a node's own record to the leader, or the
	                         leader's whole table to every peer */
	NET_KIND_MAX_ = 7,    /* 7..255 reserved: rejected by version 1 */
};

/* A member's role in a liveness record. */
enum net_role {
	NET_ROLE_LEADER = 1,
	NET_ROLE_FOLLOWER = 2,
	NET_ROLE_CANDIDATE = 3,
	NET_ROLE_LEARNER = 4,
	NET_ROLE_MAX_ = 5,
};

/* Why a received message was dropped (counters in struct net_stats). */
enum net_drop {
	NET_DROP_NONE = 0,
	NET_DROP_GARBAGE = 1, /* bad magic, lengths, kind, field values, trailing bytes */
	NET_DROP_VERSION = 2, /* valid magic, unknown version */
	NET_DROP_CRC = 3,     /* checksum mismatch */
	NET_DROP_TOO_BIG = 4, /* longer than NET_MAX_MSG */
	NET_DROP_CLUSTER = 5, /* another cluster's message (link only) */
	NET_DROP_DEST = 6,    /* addressed to another node (link only) */
	NET_DROP_AUTH = 7,    /* MAC missing, wrong, or present where no secret is set */
	NET_DROP_REPLAY = 8,  /* authentic, but seen before or from an older epoch (link) */
	NET_DROP_MAX_ = 9,
};

struct net_forward {
	uint64_t req_id;  /* the follower's own id for the pending request */
	const void *data; /* the proposal (an encoded command); NULL iff len 0 */
	uint32_t len;     /* <= NET_MAX_PROPOSAL */
};

struct net_nack {
	uint64_t req_id;
	int32_t rc; /* why: a negative QFS_E* code (e.g. QFS_ENOTLEADER) */
};

struct net_conf_forward {
	uint64_t req_id;
	uint8_t type;     /* enum raft_cc_type */
	uint64_t node;    /* nonzero */
	const void *ctx;  /* raft_propose_conf_change context; NULL iff ctx_len 0 */
	uint32_t ctx_len; /* <= RAFT_MAX_CC_CONTEXT */
};

struct net_join {
	const char *name; /* NUL-terminated, 1..NET_MAX_NAME bytes, no NUL inside */
	const char *url;  /* advertise URL, 1..NET_MAX_URL bytes */
};

/* One member as last heard (members/ in INTERFACE.md section 5). */
struct net_member_rec {
	uint64_t id; /* nonzero */
	uint64_t term, applied;
	uint32_t load_milli;   /* 1-minute load average x 1000 */
	uint32_t uptime_s;     /* since its daemon started */
	uint32_t last_seen_ms; /* its age when sent: how long ago the sender heard it */
	uint8_t role;          /* enum net_role */
	const char *name;      /* NUL-terminated: 1..NET_MAX_NAME bytes */
	const char *address;   /* advertised peer URL: 0..NET_MAX_URL bytes */
	const char *version;   /* 0..NET_MAX_VERSION bytes */
};

struct net_liveness {
	uint32_t count;                       /* <= NET_MAX_MEMBERS */
	const struct net_member_rec *members; /* NULL iff count 0 */
};

/* One message, decoded or to encode.  For NET_RAFT, raft.from/raft.to are
 * the header's from/to (the body does not repeat them).  Pointers inside
 * are borrowed: from the caller when encoding, from the decoded buffer (and
 * struct net_decoded) when decoding. */
struct net_msg {
	uint8_t kind; /* enum net_kind */
	uint64_t cluster_id;
	uint64_t from; /* sender's node id, nonzero */
	uint64_t to;   /* receiver's node id; 0 only for NET_JOIN */
	union {
		struct raft_msg raft;
		struct net_forward forward;
		struct net_nack nack;
		struct net_conf_forward conf;
		struct net_join join;
		struct net_liveness live;
	} u;
};

/* Decoder output, no allocation: entries, join strings and liveness records
 * live here, entry data and snapshot bytes point into the decoded buffer.
 * Valid while both the buffer and this struct are; do not copy it
 * (msg.u.raft.entries points into it).  ~62 KiB: keep it off small stacks. */
struct net_decoded {
	struct net_msg msg;
	enum net_drop why;  /* on failure: the reason (GARBAGE, VERSION, CRC, TOO_BIG, AUTH) */
	const char *detail; /* on failure, optional: a static phrase saying more (AUTH) */
	bool authenticated; /* the MAC was checked: auth_epoch and auth_seq are the sender's */
	uint64_t auth_epoch, auth_seq;
	struct raft_entry entries[RAFT_MAX_MSG_ENTRIES];
	char join_name[NET_MAX_NAME + 1];
	char join_url[NET_MAX_URL + 1];
	struct net_member_rec members[NET_MAX_MEMBERS];
	struct {
		char name[NET_MAX_NAME + 1];
		char address[NET_MAX_URL + 1];
		char version[NET_MAX_VERSION + 1];
	} member_strs[NET_MAX_MEMBERS];
};

/* ---------------------------------------------------------------- codec (pure) */

/* The exact encoded size of m (header included) in *size after validating m
 * as the decoder would: 0, or QFS_EINVAL (m could not be decoded). */
int net_encoded_size(const struct net_msg *m, size_t *size);

/* Encodes m into buf[0..cap): QFS_EINVAL for an invalid m or a short buffer;
 * *len (optional) = bytes written, always net_encoded_size(). */
int net_encode(const struct net_msg *m, uint8_t *buf, size_t cap, size_t *len);

/* What authenticates one message: the MAC key (NET_AUTH_KEY_SIZE bytes,
 * borrowed) and the sender's epoch and sequence number, carried under the
 * MAC (the receiver's replay defence, struct net_replay). */
struct net_auth {
	const uint8_t *key;
	uint64_t epoch, seq;
};

/* net_encode with the NET_FLAG_AUTH trailer when a is not NULL: the message
 * is net_encoded_size() + NET_AUTH_SIZE bytes. */
int net_encode_auth(const struct net_msg *m, const struct net_auth *a, uint8_t *buf, size_t cap,
                    size_t *len);

/* Decodes buf[0..len): 0, or QFS_ECORRUPT with out->why set.  Checks, in
 * order: size, magic, version, flags, body_len == len - header - trailer,
 * crc; then the MAC (key given: the message must carry a valid one; key
 * NULL: it must carry none), *before* anything else is believed; then kind,
 * ids, every length before reading it and every field's range; trailing
 * bytes are rejected.  Does NOT check cluster_id, `to` or replays (the link
 * does).  Never reads outside buf, never allocates. */
int net_decode_auth(const uint8_t *buf, size_t len, const uint8_t *key, struct net_decoded *out);
/* net_decode_auth without a key: messages that carry a MAC are refused. */
int net_decode(const uint8_t *buf, size_t len, struct net_decoded *out);

const char *net_kind_name(int kind);
const char *net_drop_name(int why);

/* ---------------------------------------------------------------- auth (auth.c) */

/* The MAC key from a cluster secret: a KDF (libsodium crypto_kdf, context
 * "QFSPEER1", subkey 1) over BLAKE2b-256 of the secret, so the same secret
 * can key other things under other contexts.  0, or QFS_EINVAL when the
 * secret is shorter than NET_SECRET_MIN, QFS_EIO when libsodium fails. */
int net_auth_key_derive(const void *secret, size_t len, uint8_t key[NET_AUTH_KEY_SIZE]);

/* Reads a --secret-file and derives the key.  A file of text (no control
 * bytes but tab/CR/LF) loses its trailing white space, so an editor's
 * newline does not change the key; anything else is used byte for byte.
 * Refused, with a message for the user in err: not a regular file, empty,
 * fewer than NET_SECRET_MIN bytes, more than NET_SECRET_MAX.  A file that
 * group or others may read or write is accepted with one warning (logged).
 * 0 or QFS_EINVAL/QFS_EIO. */
int net_auth_key_load(const char *path, uint8_t key[NET_AUTH_KEY_SIZE], char *err, size_t errlen);

/* The receiver's replay defence: per sender id, the newest epoch seen and a
 * window of the NET_REPLAY_WINDOW sequence numbers below the highest one.
 * A message is fresh when its epoch is newer (the sender restarted: the
 * window starts over), or its epoch is the same and its seq is above the
 * highest, or inside the window and not seen yet.  Older epochs, seqs
 * below the window and repeats are replays.  Not thread-safe (the link's
 * receive callback owns it).  Senders beyond NET_REPLAY_SENDERS evict the
 * least recently heard. */
struct net_replay_slot {
	uint64_t id, epoch, top, last_use;
	uint64_t seen[NET_REPLAY_WINDOW / 64]; /* bit (seq % WINDOW): seq seen */
};
struct net_replay {
	uint64_t clock;
	struct net_replay_slot slot[NET_REPLAY_SENDERS];
};
void net_replay_init(struct net_replay *r);
/* true: fresh, and now remembered; false: a replay (*why, optional, says
 * which rule). */
bool net_replay_accept(struct net_replay *r, uint64_t from, uint64_t epoch, uint64_t seq,
                       const char **why);

/* URL helpers.  tls: "tls+tcp://...".  local: 127.0.0.0/8, [::1],
 * localhost, ipc:// or inproc://: no other machine can reach it. */
bool net_url_is_tls(const char *url);
bool net_url_is_local(const char *url);

/* ---------------------------------------------------------------- links */

struct net; /* opaque */

struct net_config {
	const char *listen;        /* tcp://HOST:PORT, ipc://PATH, inproc://NAME; NULL: listen
	                              nowhere (single node).  tcp port 0: any, see
	                              net_bound_port(). */
	uint64_t self_id;          /* this node, nonzero */
	uint64_t cluster_id;       /* 0: not known yet (a joining node), see below */
	uint32_t send_queue;       /* messages buffered per peer (0: default) */
	uint32_t reconnect_min_ms; /* backoff bounds (0: defaults) */
	uint32_t reconnect_max_ms;
	/* --secret-file: every message sent carries a MAC with this key
	 * (NET_AUTH_KEY_SIZE bytes, copied), every message received must; NULL:
	 * none is sent and messages that carry one are dropped. */
	const uint8_t *auth_key;
	uint64_t auth_epoch; /* this run's epoch, above every earlier run's (0: now, ms) */
	/* --tls-*: PEM files (all three or none).  Every link, listening and
	 * dialing, is then tls+tcp:// with mutual authentication: a peer must
	 * present a certificate signed by tls_ca (the name in it is not
	 * checked: the CA is the cluster's).  URLs of the other kind are
	 * refused (QFS_EINVAL), and with no TLS, tls+tcp:// URLs are. */
	const char *tls_cert, *tls_key, *tls_ca;
};

/* Checks that the TLS files load (the certificate, its key, the CA):
 * 0, or QFS_EINVAL with a message for the user in err. */
int net_tls_check(const char *cert, const char *key, const char *ca, char *err, size_t errlen);

/* Called on an nng thread for each valid message, one call at a time.  d and
 * everything it points to are valid only during the call: copy what you keep.
 * The callback may call net_send* (not net_free). */
typedef void (*net_recv_fn)(void *ctx, const struct net_decoded *d);

/* Receive rules: a message is delivered when it decodes, `to` is this node
 * (or 0 for NET_JOIN), and its cluster_id is ours (NET_JOIN may also carry 0:
 * the joiner does not know it yet).  While our cluster id is 0, only NET_RAFT
 * is delivered, from any cluster: the host adopts d->msg.cluster_id with
 * net_set_cluster_id() before replying.  Everything else is dropped, counted
 * by reason, and logged at most once a minute per reason. */

/* Opens the listener (synchronously: a bad or busy address fails here) and
 * starts receiving.  cfg and its strings are copied.  QFS_EINVAL (bad config
 * or URL, TLS files that do not load), QFS_EIO (address in use), QFS_ENOMEM.
 * Logs one warning when it listens beyond loopback (net_url_is_local) with
 * neither auth_key nor TLS. */
int net_new(struct net **out, const struct net_config *cfg, net_recv_fn on_recv, void *ctx);

/* Stops receiving (waits for a running callback), closes every socket
 * (queued outgoing messages are discarded), frees.  NULL is fine. */
void net_free(struct net *n);

void net_set_cluster_id(struct net *n, uint64_t cluster_id);
uint64_t net_get_cluster_id(const struct net *n);

/* The TCP port actually bound (listen URL with port 0), or QFS_EINVAL when
 * not listening on TCP. */
int net_bound_port(const struct net *n);

/* Adds peer `id` at `url` or changes its address (a changed address drops
 * what was queued for the old one; if the new address fails, the peer is
 * gone).  Dialing runs in the background: an
 * absent peer does not block, messages queue until the queue is full.
 * id == self: no-op.  QFS_EINVAL (id 0, bad URL), QFS_ENOSPC (NET_MAX_PEERS),
 * QFS_ENOMEM. */
int net_peer_set(struct net *n, uint64_t id, const char *url);
/* Forgets a peer (queued messages dropped).  QFS_ENOENT when unknown. */
int net_peer_remove(struct net *n, uint64_t id);

/* Sending never blocks: the message is queued for the peer, or dropped
 * (counted) when its queue is full.  Lost messages are fine for Raft.
 * All borrow their arguments for the call.  Returns 0 (queued), QFS_EAGAIN
 * (queue full: dropped), QFS_ENOENT (no such peer: dropped), QFS_EINVAL
 * (the message would not decode), QFS_ENOMEM, QFS_ESHUTDOWN. */

/* A raft message to m->to; m->from must be this node. */
int net_send_raft(struct net *n, const struct raft_msg *m);
/* Any kind to peer m->to; from and cluster_id are filled in by net. */
int net_send(struct net *n, const struct net_msg *m);
/* Any kind to an address that need not be a peer (NET_JOIN to --join URL;
 * m->to may be 0).  Uses the peer with that URL if there is one, else a
 * URL-only link kept for later sends (LRU, NET_MAX_URL_LINKS); a later
 * net_peer_set with the same URL adopts that link. */
int net_send_url(struct net *n, const char *url, const struct net_msg *m);

struct net_stats {
	uint64_t sent; /* messages queued to nng */
	uint64_t sent_bytes;
	uint64_t received; /* delivered to the callback */
	uint64_t received_bytes;
	uint64_t dropped[NET_DROP_MAX_]; /* received but dropped, by enum net_drop */
	uint64_t send_full;              /* dropped: peer queue full */
	uint64_t send_no_peer;           /* dropped: unknown peer */
	uint64_t send_failed;            /* dropped: other errors (encode, memory, closed) */
	uint64_t relinked;               /* push sockets replaced after a lost connection */
	/* TLS handshakes that failed (a certificate not signed by our CA, or
	 * not TLS at all), as nng counts them, read every NET_TLS_POLL_MS. */
	uint64_t tls_accept_failed; /* connections to our listener */
	uint64_t tls_dial_failed;   /* our connections to peers */
};
void net_stats(const struct net *n, struct net_stats *st);

#endif
