/* options: the daemon's settings from defaults, --config FILE, QUORUMFS_*
 * environment and the command line, in rising precedence (INTERFACE §1). */
#ifndef QFS_OPTIONS_H
#define QFS_OPTIONS_H

#include <stdbool.h>
#include <stdio.h>
#include <stddef.h>
#include <stdint.h>

#define QFS_OPT_MAX_PEERS 16

struct qfs_options {
	char name[256];
	char listen[512];
	char advertise[512];
	char join[512];
	char peers[QFS_OPT_MAX_PEERS][256 + 512 + 2]; /* NAME=URL */
	unsigned n_peers;
	double write_timeout;    /* seconds */
	double heartbeat;        /* seconds: the Raft tick */
	double election_timeout; /* seconds: randomized in [t, 2t) */
	double dead_after;       /* seconds: a silent node leaves members/ */
	char http[512];          /* --http URL: /metrics and /health */
	char secret_file[4096];  /* --secret-file: cluster secret for peer MACs */
	char tls_cert[4096], tls_key[4096], tls_ca[4096]; /* --tls-*: peer links over TLS */
	char backup_dir[4096];   /* --backup-dir: scheduled backups ("" : none) */
	double backup_every;     /* seconds between backups (0: default 1h with a dir) */
	uint32_t backup_keep;    /* backups kept (default 7) */
	uint64_t snapshot_entries;
	char data[4096];
	char mountpoint[4096];
	char fuse_opts[4096]; /* comma-separated -o options */
	bool foreground;
	uint64_t map_size;
	uint32_t value_max;
	double cache_timeout; /* seconds for the kernel's entry and attribute caches */
	bool help, version;
	bool name_set; /* --name given (else the host name is only a default) */
	bool linearizable; /* -o linearizable: ours, not passed to FUSE */
};

/* Fills *o.  On bad input returns -1 with a message in err (for the user). */
int options_parse(struct qfs_options *o, int argc, char **argv, char *err, size_t errlen);
void options_usage(FILE *out);

#endif
