/* On-disk records and keys.  Layouts: docs/disk-format.md §3.
 *
 * Keys are big-endian so that LMDB's byte order is numeric order; record
 * fields are little-endian, fixed width, versioned and covered by a CRC-32C.
 */
#include "store/store_int.h"

#include <string.h>
#include <sys/stat.h>

#include "quorumfs/error.h"
#include "util/crc32c.h"

void store_be64(uint8_t out[8], uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		out[i] = (uint8_t)v;
		v >>= 8;
	}
}

uint64_t store_get_be64(const uint8_t in[8])
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = (v << 8) | in[i];
	return v;
}

static void le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

void store_put_le64(uint8_t out[8], uint64_t v)
{
	le64(out, v);
}

static uint16_t get_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t get_le32(const uint8_t *p)
{
	uint32_t v = 0;
	for (int i = 3; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static uint64_t get_le64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

/* CRC of a record whose crc field (4 bytes at crc_off) counts as zero. */
static uint32_t record_crc(const uint8_t *p, size_t len, size_t crc_off)
{
	static const uint8_t zero[4];
	uint32_t crc = crc32c(0, p, crc_off);
	crc = crc32c(crc, zero, 4);
	return crc32c(crc, p + crc_off + 4, len - crc_off - 4);
}

size_t store_name_key(uint8_t *out, uint64_t parent, const char *name, size_t len)
{
	store_be64(out, parent);
	if (len)
		memcpy(out + 8, name, len);
	return 8 + len;
}

/* Inode record, version 1 (little-endian):
 *   0 u16 version   2 u16 name_len   4 u32 crc32c   8 u32 mode   12 u32 uid
 *  16 u32 gid      20 u32 nlink     24 u64 ino     32 u64 parent 40 u64 size
 *  48 u64 mtime_ns 56 u64 ctime_ns  64 u64 create_revision       72 u64 mod_revision
 *  80 u64 version  88 u64 children  96 name[name_len]                              */
enum { INO_CRC_OFF = 4 };

size_t store_inode_encode(const struct store_inode *n, uint8_t *out)
{
	const struct qfs_attr *a = &n->a;
	le16(out + 0, STORE_INODE_VERSION);
	le16(out + 2, n->name_len);
	le32(out + 4, 0);
	le32(out + 8, a->mode);
	le32(out + 12, a->uid);
	le32(out + 16, a->gid);
	le32(out + 20, a->nlink);
	le64(out + 24, a->ino);
	le64(out + 32, a->parent);
	le64(out + 40, a->size);
	le64(out + 48, a->mtime_ns);
	le64(out + 56, a->ctime_ns);
	le64(out + 64, a->create_revision);
	le64(out + 72, a->mod_revision);
	le64(out + 80, a->version);
	le64(out + 88, n->children);
	memcpy(out + STORE_INODE_FIXED, n->name, n->name_len);
	size_t len = STORE_INODE_FIXED + n->name_len;
	le32(out + INO_CRC_OFF, record_crc(out, len, INO_CRC_OFF));
	return len;
}

int store_inode_decode(const MDB_val *v, uint64_t ino, struct store_inode *n)
{
	const uint8_t *p = v->mv_data;
	if (v->mv_size < STORE_INODE_FIXED || get_le16(p) != STORE_INODE_VERSION)
		return QFS_ECORRUPT;
	uint16_t name_len = get_le16(p + 2);
	if (name_len > QFS_NAME_MAX || v->mv_size != STORE_INODE_FIXED + (size_t)name_len)
		return QFS_ECORRUPT;
	if (get_le32(p + INO_CRC_OFF) != record_crc(p, v->mv_size, INO_CRC_OFF))
		return QFS_ECORRUPT;
	struct qfs_attr *a = &n->a;
	a->mode = get_le32(p + 8);
	a->uid = get_le32(p + 12);
	a->gid = get_le32(p + 16);
	a->nlink = get_le32(p + 20);
	a->ino = get_le64(p + 24);
	a->parent = get_le64(p + 32);
	a->size = get_le64(p + 40);
	a->mtime_ns = get_le64(p + 48);
	a->ctime_ns = get_le64(p + 56);
	a->create_revision = get_le64(p + 64);
	a->mod_revision = get_le64(p + 72);
	a->version = get_le64(p + 80);
	n->children = get_le64(p + 88);
	n->name_len = name_len;
	memcpy(n->name, p + STORE_INODE_FIXED, name_len);
	n->name[name_len] = '\0';
	if (a->ino != ino)
		return QFS_ECORRUPT;
	uint32_t fmt = a->mode & S_IFMT;
	if (fmt != S_IFREG && fmt != S_IFDIR && fmt != S_IFLNK)
		return QFS_ECORRUPT;
	return 0;
}

/* Meta "keyspace" record, version 1 (little-endian):
 *   0 u16 version  2 u16 zero  4 u32 crc32c  8 u64 applied  16 u64 revision
 *  24 u64 next_ino 32 u64 keys 40 u64 bytes  48 u64 zero                    */
enum { META_CRC_OFF = 4 };

void store_meta_encode(const struct store_meta *m, uint8_t out[STORE_META_SIZE])
{
	memset(out, 0, STORE_META_SIZE);
	le16(out + 0, STORE_META_VERSION);
	le64(out + 8, m->applied);
	le64(out + 16, m->revision);
	le64(out + 24, m->next_ino);
	le64(out + 32, m->keys);
	le64(out + 40, m->bytes);
	le32(out + META_CRC_OFF, record_crc(out, STORE_META_SIZE, META_CRC_OFF));
}

int store_meta_decode(const MDB_val *v, struct store_meta *m)
{
	const uint8_t *p = v->mv_data;
	if (v->mv_size != STORE_META_SIZE || get_le16(p) != STORE_META_VERSION)
		return QFS_ECORRUPT;
	if (get_le32(p + META_CRC_OFF) != record_crc(p, STORE_META_SIZE, META_CRC_OFF))
		return QFS_ECORRUPT;
	m->applied = get_le64(p + 8);
	m->revision = get_le64(p + 16);
	m->next_ino = get_le64(p + 24);
	m->keys = get_le64(p + 32);
	m->bytes = get_le64(p + 40);
	if (m->next_ino <= QFS_ROOT_INO || m->keys == 0)
		return QFS_ECORRUPT;
	return 0;
}

/* Meta "format" record: magic[8] "QFSSTORE", u32 format version, u32 crc32c. */
void store_format_encode(uint8_t out[STORE_FORMAT_SIZE])
{
	memcpy(out, STORE_FORMAT_MAGIC, 8);
	le32(out + 8, STORE_FORMAT_VERSION);
	le32(out + 12, crc32c(0, out, 12));
}

int store_format_decode(const MDB_val *v)
{
	const uint8_t *p = v->mv_data;
	if (v->mv_size != STORE_FORMAT_SIZE || memcmp(p, STORE_FORMAT_MAGIC, 8) != 0)
		return QFS_ECORRUPT;
	if (get_le32(p + 12) != crc32c(0, p, 12))
		return QFS_ECORRUPT;
	if (get_le32(p + 8) != STORE_FORMAT_VERSION)
		return QFS_ECORRUPT; /* a newer (or older) layout: refuse, never guess */
	return 0;
}

/* --- lookups shared by both sides --- */

int store_get_inode(struct store *s, MDB_txn *txn, uint64_t ino, struct store_inode *n)
{
	uint8_t kb[8];
	store_be64(kb, ino);
	MDB_val k = {8, kb}, v;
	int rc = mdb_get(txn, s->dbi_inodes, &k, &v);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc != 0)
		return store_mdb_error(rc);
	rc = store_inode_decode(&v, ino, n);
	return rc < 0 ? rc : 1;
}

int store_get_child(struct store *s, MDB_txn *txn, uint64_t parent, const char *name, size_t len,
                    uint64_t *child)
{
	uint8_t kb[STORE_NAME_KEY_MAX];
	if (len > QFS_NAME_MAX)
		return 0;
	MDB_val k = {store_name_key(kb, parent, name, len), kb}, v;
	int rc = mdb_get(txn, s->dbi_names, &k, &v);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc != 0)
		return store_mdb_error(rc);
	if (v.mv_size != 8)
		return QFS_ECORRUPT;
	*child = get_le64(v.mv_data);
	return 1;
}

int store_get_meta(struct store *s, MDB_txn *txn, struct store_meta *m)
{
	MDB_val k = {8, "keyspace"}, v;
	int rc = mdb_get(txn, s->dbi_meta, &k, &v);
	if (rc == MDB_NOTFOUND)
		return QFS_ECORRUPT;
	if (rc != 0)
		return store_mdb_error(rc);
	return store_meta_decode(&v, m);
}
