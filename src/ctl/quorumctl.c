/* quorumctl: the admin CLI; talks to the local daemon's admin socket.
 * `snapshot verify` and `snapshot restore` work on files alone (store/backup.h). */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "quorumfs/error.h"
#include "store/backup.h"

#define CTL_TIMEOUT_MS 15000
/* snapshot save, export and import: as long as the store is large. */
#define CTL_LONG_TIMEOUT_MS (3600 * 1000)

static void usage(FILE *f)
{
	fprintf(f, "usage: quorumctl [--data DIR | --socket URL] COMMAND\n\n"
		   "commands:\n"
		   "  status                  this node: role, leader, term, commit, applied, quorum\n"
		   "  members                 the cluster's voters and learners\n"
		   "  promote NAME            make learner NAME a voter\n"
		   "  demote NAME             make voter NAME a learner\n"
		   "  remove NAME             remove NAME from the cluster\n"
		   "  transfer-leader [NAME]  hand leadership to NAME (or any up-to-date voter);\n"
		   "                          run it on the leader\n"
		   "  snapshot save FILE      a consistent copy of the keyspace, with a checksum\n"
		   "                          (written by the daemon; any node, leader or not)\n"
		   "  snapshot verify FILE    check a snapshot file completely (no daemon needed)\n"
		   "  snapshot restore FILE --data DIR [--name NAME]\n"
		   "                          seed a new, empty data directory from FILE; start\n"
		   "                          quorumfs on it as a new cluster (no daemon needed)\n"
		   "  export [PATH]           the subtree at PATH (default: all) as JSON on stdout\n"
		   "  import FILE.json [PATH] create or overwrite the keys of an export under PATH\n\n"
		   "The daemon is found through DIR/admin.sock (DIR: --data, else $QUORUMFS_DATA,\n"
		   "else /var/lib/quorumfs).  Exit status: 0 done, 1 refused or failed, 2 usage,\n"
		   "3 no daemon.\n");
}

static void print_info(const char *path, const struct store_backup_info *i)
{
	char when[64] = "?";
	time_t s = (time_t)(i->created_ns / 1000000000ull);
	struct tm tm;
	if (gmtime_r(&s, &tm))
		strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
	char hex[2 * STORE_BACKUP_DIGEST + 1];
	for (unsigned k = 0; k < STORE_BACKUP_DIGEST; k++)
		snprintf(hex + 2 * k, 3, "%02x", i->digest[k]);
	printf("file=%s\nformat_version=%u\ncluster_id=%016" PRIx64 "\nrevision=%" PRIu64
	       "\nkeys=%" PRIu64 "\nindex=%" PRIu64 "\nterm=%" PRIu64 "\ncreated=%s\nbytes=%" PRIu64
	       "\ncontent_bytes=%" PRIu64 "\nblake2b_256=%s\n",
	       path, i->version, i->cluster_id, i->revision, i->keys, i->index, i->term, when,
	       i->file_len, i->content_len, hex);
}

static int snapshot_verify(const char *path)
{
	struct store_backup_info info;
	char err[1024];
	int rc = store_backup_verify(path, &info, err, sizeof err);
	if (rc < 0) {
		fprintf(stderr, "quorumctl: snapshot verify: %s\n", err[0] ? err : qfs_strerror(rc));
		return 1;
	}
	print_info(path, &info);
	printf("verify=ok\n");
	return 0;
}

static int snapshot_restore(int argc, char **argv)
{
	const char *file = NULL, *dir = NULL, *name = NULL;
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--data") == 0 && i + 1 < argc)
			dir = argv[++i];
		else if (strcmp(argv[i], "--name") == 0 && i + 1 < argc)
			name = argv[++i];
		else if (argv[i][0] != '-' && !file)
			file = argv[i];
		else {
			fprintf(stderr, "quorumctl: snapshot restore: unexpected '%s'\n", argv[i]);
			return 2;
		}
	}
	if (!file || !dir) {
		fprintf(stderr, "quorumctl: usage: snapshot restore FILE --data DIR [--name NAME]\n");
		return 2;
	}
	if (name && (!*name || strlen(name) > 255)) {
		fprintf(stderr, "quorumctl: snapshot restore: --name wants 1 to 255 bytes\n");
		return 2;
	}
	struct store_backup_info info;
	char err[1024];
	int rc = store_backup_verify(file, &info, err, sizeof err);
	if (rc < 0) {
		fprintf(stderr, "quorumctl: snapshot restore: %s\n", err[0] ? err : qfs_strerror(rc));
		return 1;
	}
	/* The digest makes the new cluster's id (node_cluster.c); the name, when
	 * given, binds the directory to that node as its first start would. */
	struct store_meta_kv meta[2] = {
		{STORE_META_RESTORED, info.digest, sizeof info.digest},
		{"node_name", name, name ? strlen(name) : 0},
	};
	rc = store_backup_restore(file, dir, NULL, meta, name ? 2 : 1, &info, err, sizeof err);
	if (rc < 0) {
		fprintf(stderr, "quorumctl: snapshot restore: %s\n", err[0] ? err : qfs_strerror(rc));
		return 1;
	}
	printf("restored=%s\nrevision=%" PRIu64 "\nkeys=%" PRIu64 "\n", dir, info.revision,
	       info.keys);
	fprintf(stderr,
		"quorumctl: %s holds revision %" PRIu64 " (%" PRIu64 " keys). Start quorumfs on it%s%s:\n"
		"  single node:  quorumfs --data %s MOUNTPOINT\n"
		"  new cluster:  restore the same file into each node's data directory, then\n"
		"                start each with --data DIR and the same --peer list\n",
		dir, info.revision, info.keys, name ? " as " : "", name ? name : "", dir);
	return 0;
}

/* FILE as the daemon should open it: absolute. */
static int absolute(const char *path, char *out, size_t cap)
{
	if (path[0] == '/')
		return (size_t)snprintf(out, cap, "%s", path) < cap ? 0 : -1;
	char cwd[PATH_MAX];
	if (!getcwd(cwd, sizeof cwd))
		return -1;
	return (size_t)snprintf(out, cap, "%s/%s", cwd, path) < cap ? 0 : -1;
}

static char *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	size_t cap = 65536, n = 0;
	char *buf = malloc(cap);
	while (buf) {
		size_t k = fread(buf + n, 1, cap - n, f);
		n += k;
		if (n < cap) {
			if (ferror(f)) {
				free(buf);
				buf = NULL;
			}
			break;
		}
		char *nb = realloc(buf, cap * 2);
		if (!nb) {
			free(buf);
			buf = NULL;
			errno = ENOMEM;
			break;
		}
		buf = nb;
		cap *= 2;
	}
	int e = errno;
	fclose(f);
	errno = e;
	*len = n;
	return buf;
}

int main(int argc, char **argv)
{
	const char *data = getenv("QUORUMFS_DATA");
	const char *sock_url = NULL;
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		if ((strcmp(argv[i], "--data") == 0 || strcmp(argv[i], "-d") == 0) && i + 1 < argc)
			data = argv[++i];
		else if (strcmp(argv[i], "--socket") == 0 && i + 1 < argc)
			sock_url = argv[++i];
		else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		} else if (strcmp(argv[i], "--version") == 0) {
			printf("quorumctl %s\n", QFS_VERSION);
			return 0;
		} else {
			fprintf(stderr, "quorumctl: unknown option '%s'\n", argv[i]);
			usage(stderr);
			return 2;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return 2;
	}
	const char *cmd = argv[i];
	int nargs = argc - i - 1;
	int want_min = 0, want_max = 0;
	char *req_buf = NULL; /* long requests (paths, import's document) */
	size_t req_len = 0;
	int timeout_ms = CTL_TIMEOUT_MS;
	if (!strcmp(cmd, "snapshot")) {
		const char *sub = nargs >= 1 ? argv[i + 1] : "";
		if (!strcmp(sub, "verify") && nargs == 2)
			return snapshot_verify(argv[i + 2]);
		if (!strcmp(sub, "restore"))
			return snapshot_restore(argc - i - 2, argv + i + 2);
		if (strcmp(sub, "save") != 0 || nargs != 2) {
			fprintf(stderr, "quorumctl: usage: snapshot save FILE | snapshot verify FILE | "
					"snapshot restore FILE --data DIR [--name NAME]\n");
			return 2;
		}
		char abs[PATH_MAX];
		if (absolute(argv[i + 2], abs, sizeof abs) < 0) {
			fprintf(stderr, "quorumctl: snapshot save: bad path '%s'\n", argv[i + 2]);
			return 2;
		}
		req_len = strlen("snapshot-save ") + strlen(abs);
		req_buf = malloc(req_len + 1);
		if (!req_buf)
			return 1;
		snprintf(req_buf, req_len + 1, "snapshot-save %s", abs);
		timeout_ms = CTL_LONG_TIMEOUT_MS;
	} else if (!strcmp(cmd, "export")) {
		if (nargs > 1) {
			fprintf(stderr, "quorumctl: usage: export [PATH]\n");
			return 2;
		}
		const char *p = nargs ? argv[i + 1] : "";
		req_len = strlen("export ") + strlen(p);
		req_buf = malloc(req_len + 1);
		if (!req_buf)
			return 1;
		snprintf(req_buf, req_len + 1, "export %s", p);
		timeout_ms = CTL_LONG_TIMEOUT_MS;
	} else if (!strcmp(cmd, "import")) {
		if (nargs < 1 || nargs > 2) {
			fprintf(stderr, "quorumctl: usage: import FILE.json [PATH]\n");
			return 2;
		}
		size_t jl = 0;
		char *json = read_all(argv[i + 1], &jl);
		if (!json) {
			fprintf(stderr, "quorumctl: import: cannot read %s: %s\n", argv[i + 1],
				strerror(errno));
			return 1;
		}
		const char *p = nargs == 2 ? argv[i + 2] : "";
		size_t hl = strlen("import ") + strlen(p) + 1;
		req_buf = malloc(hl + jl + 1);
		if (!req_buf) {
			free(json);
			return 1;
		}
		snprintf(req_buf, hl + 1, "import %s\n", p);
		memcpy(req_buf + hl, json, jl);
		req_len = hl + jl;
		free(json);
		timeout_ms = CTL_LONG_TIMEOUT_MS;
	} else if (!strcmp(cmd, "status") || !strcmp(cmd, "members"))
		want_min = want_max = 0;
	else if (!strcmp(cmd, "promote") || !strcmp(cmd, "demote") || !strcmp(cmd, "remove"))
		want_min = want_max = 1;
	else if (!strcmp(cmd, "transfer-leader"))
		want_min = 0, want_max = 1;
	else {
		fprintf(stderr, "quorumctl: unknown command '%s'\n", cmd);
		usage(stderr);
		return 2;
	}
	if (!req_buf && (nargs < want_min || nargs > want_max)) {
		fprintf(stderr, "quorumctl: %s takes %s\n", cmd,
			want_max == 0 ? "no argument" : want_min ? "a node NAME" : "at most one NAME");
		return 2;
	}
	char req[1024];
	snprintf(req, sizeof req, "%s%s%s", cmd, nargs ? " " : "", nargs ? argv[i + 1] : "");

	char url[4200];
	if (sock_url)
		snprintf(url, sizeof url, "%s", sock_url);
	else
		snprintf(url, sizeof url, "ipc://%s/admin.sock", data ? data : "/var/lib/quorumfs");
	nng_socket s;
	int rv = nng_req0_open(&s);
	if (rv == 0) {
		nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, timeout_ms);
		nng_socket_set_ms(s, NNG_OPT_SENDTIMEO, timeout_ms);
		nng_socket_set_size(s, NNG_OPT_RECVMAXSZ, 0); /* export replies are large */
		rv = nng_dial(s, url, NULL, 0);
	}
	if (rv != 0) {
		fprintf(stderr, "quorumctl: no quorumfs daemon at %s: %s\n", url, nng_strerror(rv));
		return 3;
	}
	char *buf = NULL;
	size_t len = 0;
	rv = req_buf ? nng_send(s, req_buf, req_len, 0) : nng_send(s, req, strlen(req), 0);
	free(req_buf);
	if (rv == 0)
		rv = nng_recv(s, &buf, &len, NNG_FLAG_ALLOC);
	if (rv != 0) {
		fprintf(stderr, "quorumctl: %s: %s\n", url, nng_strerror(rv));
		nng_close(s);
		return 3;
	}
	int code = 1;
	if (len >= 3 && memcmp(buf, "ok\n", 3) == 0) {
		fwrite(buf + 3, 1, len - 3, stdout);
		code = 0;
	} else {
		fprintf(stderr, "quorumctl: %.*s", (int)len, buf);
		if (len == 0 || buf[len - 1] != '\n')
			fputc('\n', stderr);
	}
	nng_free(buf, len);
	/* No nng_close: the process ends here, and nng 1.5.2's close can hang
	 * (nanomsg/nng#1543). */
	return code;
}
