#include "options.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "quorumfs/limits.h"

enum opt_type { OPT_STR, OPT_FLAG, OPT_SIZE, OPT_SECONDS, OPT_FUSE, OPT_PEER };

/* One table serves the command line, the config file and the environment. */
struct opt_def {
	const char *name; /* long name; config key; QUORUMFS_<NAME> */
	char short_name;
	enum opt_type type;
	size_t offset;
	size_t size; /* OPT_STR buffer size; OPT_SIZE: bytes of the integer */
	uint64_t min, max;
	const char *arg, *help;
};

#define STR(field) offsetof(struct qfs_options, field), sizeof(((struct qfs_options *)0)->field)
static const struct opt_def opt_defs[] = {
	{"name", 0, OPT_STR, STR(name), 0, 0, "NAME", "node name, unique in the cluster (default: host name)"},
	{"data", 0, OPT_STR, STR(data), 0, 0, "DIR", "state directory (default /var/lib/quorumfs)"},
	{"listen", 0, OPT_STR, STR(listen), 0, 0, "URL", "peer address, e.g. tcp://0.0.0.0:7400 (none: single node)"},
	{"advertise", 0, OPT_STR, STR(advertise), 0, 0, "URL", "address peers dial, when it differs from --listen"},
	{"peer", 0, OPT_PEER, 0, 0, 0, 0, "NAME=URL", "an initial voter of a new cluster (repeat; include this node)"},
	{"join", 0, OPT_STR, STR(join), 0, 0, "URL", "join an existing cluster through any member, as a learner"},
	{"write-timeout", 0, OPT_SECONDS, offsetof(struct qfs_options, write_timeout), 0, 0, 3600,
	 "DURATION", "how long a change waits for a quorum (default 5s)"},
	{"heartbeat", 0, OPT_SECONDS, offsetof(struct qfs_options, heartbeat), 0, 0, 10, "DURATION",
	 "leader heartbeat period, the Raft tick (default 50ms)"},
	{"election-timeout", 0, OPT_SECONDS, offsetof(struct qfs_options, election_timeout), 0, 0, 60,
	 "DURATION", "followers elect a new leader after [t, 2t) of silence (default 300ms)"},
	{"snapshot-entries", 0, OPT_SIZE, offsetof(struct qfs_options, snapshot_entries), 8, 16,
	 1ull << 32, "N", "log entries between snapshots (default 4096)"},
	{"dead-after", 0, OPT_SECONDS, offsetof(struct qfs_options, dead_after), 0, 0, 3600,
	 "DURATION", "a node silent this long leaves members/ (default 3s)"},
	{"http", 0, OPT_STR, STR(http), 0, 0, "URL",
	 "serve /metrics and /health over HTTP, e.g. http://127.0.0.1:9101"},
	{"secret-file", 0, OPT_STR, STR(secret_file), 0, 0, "FILE",
	 "cluster secret (>= 32 bytes): peers that do not hold it are refused"},
	{"tls-cert", 0, OPT_STR, STR(tls_cert), 0, 0, "FILE",
	 "this node's PEM certificate: peer links over TLS (tls+tcp:// URLs)"},
	{"tls-key", 0, OPT_STR, STR(tls_key), 0, 0, "FILE", "the private key of --tls-cert (PEM)"},
	{"tls-ca", 0, OPT_STR, STR(tls_ca), 0, 0, "FILE",
	 "the CA (PEM) that must have signed every peer's certificate"},
	{"backup-dir", 0, OPT_STR, STR(backup_dir), 0, 0, "DIR",
	 "write verified snapshot files here on a schedule (see docs/usage.md)"},
	{"backup-every", 0, OPT_SECONDS, offsetof(struct qfs_options, backup_every), 0, 1, 2592000,
	 "DURATION", "time between scheduled backups, e.g. 30s, 15m, 1h (default 1h)"},
	{"backup-keep", 0, OPT_SIZE, offsetof(struct qfs_options, backup_keep), 4, 1, 100000, "N",
	 "scheduled backups kept in --backup-dir; older ones are removed (default 7)"},
	{"config", 0, OPT_STR, 0, 0, 0, 0, "FILE", "read options from FILE, one `key = value` a line"},
	{"foreground", 'f', OPT_FLAG, offsetof(struct qfs_options, foreground), 0, 0, 0, NULL,
	 "stay in the foreground"},
	{"option", 'o', OPT_FUSE, 0, 0, 0, 0, "OPT[,OPT]",
	 "mount option: linearizable (reads confirm with the leader), or a FUSE one (allow_other, ...)"},
	{"map-size", 0, OPT_SIZE, offsetof(struct qfs_options, map_size), 8, QFS_MAP_SIZE_MIN,
	 1ull << 44, "BYTES", "LMDB map size: the store's capacity (default 1G; K/M/G suffixes)"},
	{"value-max", 0, OPT_SIZE, offsetof(struct qfs_options, value_max), 4, 1, QFS_VALUE_MAX_HARD,
	 "BYTES", "largest value; bigger writes fail with EFBIG (default 1M)"},
	{"cache-timeout", 0, OPT_SECONDS, offsetof(struct qfs_options, cache_timeout), 0, 0, 3600,
	 "SECONDS", "how long the kernel may cache names and attributes (default 1)"},
	{"help", 'h', OPT_FLAG, offsetof(struct qfs_options, help), 0, 0, 0, NULL, "show this help"},
	{"version", 'V', OPT_FLAG, offsetof(struct qfs_options, version), 0, 0, 0, NULL,
	 "show the version"},
};
#define OPT_COUNT (sizeof opt_defs / sizeof opt_defs[0])

void options_usage(FILE *out)
{
	fprintf(out, "usage: quorumfs [OPTIONS] MOUNTPOINT\n\n"
		     "Mounts replicated cluster state as a directory tree.\n\noptions:\n");
	for (size_t i = 0; i < OPT_COUNT; i++) {
		const struct opt_def *d = &opt_defs[i];
		char left[64];
		if (d->short_name)
			snprintf(left, sizeof left, "-%c, --%s%s%s", d->short_name, d->name,
				 d->arg ? " " : "", d->arg ? d->arg : "");
		else
			snprintf(left, sizeof left, "    --%s%s%s", d->name, d->arg ? " " : "",
				 d->arg ? d->arg : "");
		fprintf(out, "  %-28s %s\n", left, d->help);
	}
	fprintf(out, "\nEvery option can also be set as QUORUMFS_<OPTION> in the environment\n"
		     "(e.g. QUORUMFS_DATA=/srv/q) or in the --config file (data = /srv/q).\n"
		     "Precedence: command line, environment, config file, defaults.\n");
}

static int set_err(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
	return -1;
}

static int parse_size(const char *s, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *s == '-')
		return -1;
	uint64_t mul = 1;
	switch (toupper((unsigned char)*end)) {
	case 'K': mul = 1024; end++; break;
	case 'M': mul = 1024 * 1024; end++; break;
	case 'G': mul = 1024ull * 1024 * 1024; end++; break;
	case 'T': mul = 1024ull * 1024 * 1024 * 1024; end++; break;
	default: break;
	}
	if (toupper((unsigned char)*end) == 'B' || toupper((unsigned char)*end) == 'I')
		end++;
	if (*end || v > UINT64_MAX / mul)
		return -1;
	*out = v * mul;
	return 0;
}

static int opt_apply(struct qfs_options *o, const struct opt_def *d, const char *val,
		     const char *where, char *err, size_t errlen)
{
	char *base = (char *)o;
	uint64_t v;
	switch (d->type) {
	case OPT_STR:
		if (d->size == 0)
			return 0; /* --config: handled before */
		if (!*val || strlen(val) >= d->size)
			return set_err(err, errlen, "%s: --%s wants a value of 1 to %zu bytes", where,
				       d->name, d->size - 1);
		memcpy(base + d->offset, val, strlen(val) + 1);
		if (strcmp(d->name, "name") == 0)
			o->name_set = true;
		return 0;
	case OPT_FLAG:
		if (val && strcmp(val, "1") && strcasecmp(val, "true") && strcasecmp(val, "yes")) {
			if (strcmp(val, "0") && strcasecmp(val, "false") && strcasecmp(val, "no"))
				return set_err(err, errlen, "%s: --%s wants yes or no, not '%s'",
					       where, d->name, val);
			*(bool *)(base + d->offset) = false;
			return 0;
		}
		*(bool *)(base + d->offset) = true;
		return 0;
	case OPT_SIZE:
		if (parse_size(val, &v) < 0 || v < d->min || v > d->max)
			return set_err(err, errlen,
				       "%s: --%s wants a size from %llu to %llu bytes, not '%s'", where,
				       d->name, (unsigned long long)d->min,
				       (unsigned long long)d->max, val);
		if (d->size == 8)
			*(uint64_t *)(base + d->offset) = v;
		else
			*(uint32_t *)(base + d->offset) = (uint32_t)v;
		return 0;
	case OPT_SECONDS: {
		char *end;
		double s = strtod(val, &end);
		if (end != val && strcmp(end, "ms") == 0)
			s /= 1000.0, end += 2;
		else if (end != val && strcmp(end, "s") == 0)
			end += 1;
		else if (end != val && strcmp(end, "m") == 0)
			s *= 60.0, end += 1;
		else if (end != val && strcmp(end, "h") == 0)
			s *= 3600.0, end += 1;
		else if (end != val && strcmp(end, "d") == 0)
			s *= 86400.0, end += 1;
		if (end == val || *end || s < (double)d->min || s > (double)d->max)
			return set_err(err, errlen, "%s: --%s wants seconds from %llu to %llu, not '%s'",
				       where, d->name, (unsigned long long)d->min,
				       (unsigned long long)d->max, val);
		*(double *)(base + d->offset) = s;
		return 0;
	}
	case OPT_PEER: {
		const char *eq = strchr(val, '=');
		if (!eq || eq == val || !eq[1] || (size_t)(eq - val) > 255 || strlen(eq + 1) > 511)
			return set_err(err, errlen, "%s: --peer wants NAME=URL, not '%s'", where, val);
		if (o->n_peers == QFS_OPT_MAX_PEERS)
			return set_err(err, errlen, "%s: at most %d --peer options", where,
				       QFS_OPT_MAX_PEERS);
		snprintf(o->peers[o->n_peers++], sizeof o->peers[0], "%s", val);
		return 0;
	}
	case OPT_FUSE: {
		/* Our own mount options are taken out; the rest go to FUSE. */
		char buf[4096];
		if (!*val || strlen(val) >= sizeof buf)
			return set_err(err, errlen, "%s: bad or too long -o value", where);
		snprintf(buf, sizeof buf, "%s", val);
		for (char *save, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
			if (strcmp(tok, "linearizable") == 0) {
				o->linearizable = true;
				continue;
			}
			size_t cur = strlen(o->fuse_opts);
			if (cur + strlen(tok) + 2 > sizeof o->fuse_opts)
				return set_err(err, errlen, "%s: too many -o options", where);
			snprintf(o->fuse_opts + cur, sizeof o->fuse_opts - cur, "%s%s", cur ? "," : "", tok);
		}
		return 0;
	}
	}
	return -1;
}

static const struct opt_def *opt_find(const char *name, size_t len)
{
	for (size_t i = 0; i < OPT_COUNT; i++)
		if (strlen(opt_defs[i].name) == len && strncmp(opt_defs[i].name, name, len) == 0)
			return &opt_defs[i];
	return NULL;
}

static int options_from_file(struct qfs_options *o, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return set_err(err, errlen, "cannot read config %s: %s", path, strerror(errno));
	char line[8192];
	int lineno = 0, rc = 0;
	while (rc == 0 && fgets(line, sizeof line, f)) {
		lineno++;
		char *s = line;
		while (isspace((unsigned char)*s))
			s++;
		if (*s == '#' || *s == '\0')
			continue;
		char *eq = strchr(s, '=');
		char where[4200];
		snprintf(where, sizeof where, "%s:%d", path, lineno);
		if (!eq) {
			rc = set_err(err, errlen, "%s: expected `key = value`", where);
			break;
		}
		char *kend = eq;
		while (kend > s && isspace((unsigned char)kend[-1]))
			kend--;
		char *val = eq + 1;
		while (isspace((unsigned char)*val))
			val++;
		size_t vl = strlen(val);
		while (vl && isspace((unsigned char)val[vl - 1]))
			val[--vl] = '\0';
		if ((size_t)(kend - s) == 10 && strncmp(s, "mountpoint", 10) == 0) {
			snprintf(o->mountpoint, sizeof o->mountpoint, "%s", val);
			continue;
		}
		const struct opt_def *d = opt_find(s, (size_t)(kend - s));
		if (!d || (d->type == OPT_STR && d->size == 0))
			rc = set_err(err, errlen, "%s: unknown option '%.*s'", where, (int)(kend - s), s);
		else
			rc = opt_apply(o, d, val, where, err, errlen);
	}
	fclose(f);
	return rc;
}

static int options_from_env(struct qfs_options *o, char *err, size_t errlen)
{
	for (size_t i = 0; i < OPT_COUNT; i++) {
		const struct opt_def *d = &opt_defs[i];
		char var[64] = "QUORUMFS_";
		size_t n = strlen(var);
		for (const char *p = d->name; *p && n < sizeof var - 1; p++)
			var[n++] = *p == '-' ? '_' : (char)toupper((unsigned char)*p);
		var[n] = '\0';
		const char *val = getenv(var);
		if (!val || (d->type == OPT_STR && d->size == 0) || d == &opt_defs[OPT_COUNT - 1] ||
		    d == &opt_defs[OPT_COUNT - 2])
			continue; /* --config was read already; help/version are not settings */
		if (d->type == OPT_PEER) {
			/* A later source replaces the list; several peers are
			 * separated by commas or spaces. */
			o->n_peers = 0;
			char buf[8192];
			snprintf(buf, sizeof buf, "%s", val);
			for (char *save, *tok = strtok_r(buf, ", \t", &save); tok;
			     tok = strtok_r(NULL, ", \t", &save))
				if (opt_apply(o, d, tok, var, err, errlen) < 0)
					return -1;
			continue;
		}
		if (opt_apply(o, d, val, var, err, errlen) < 0)
			return -1;
	}
	const char *mp = getenv("QUORUMFS_MOUNTPOINT");
	if (mp)
		snprintf(o->mountpoint, sizeof o->mountpoint, "%s", mp);
	return 0;
}

static void options_defaults(struct qfs_options *o)
{
	memset(o, 0, sizeof *o);
	if (gethostname(o->name, sizeof o->name - 1) < 0 || !o->name[0])
		snprintf(o->name, sizeof o->name, "quorumfs");
	snprintf(o->data, sizeof o->data, "/var/lib/quorumfs");
	o->map_size = QFS_MAP_SIZE_DEFAULT;
	o->value_max = QFS_VALUE_MAX_DEFAULT;
	o->cache_timeout = 1.0;
	o->write_timeout = 5.0;
	o->heartbeat = 0.05;
	o->dead_after = 3.0;
	o->election_timeout = 0.3;
	o->snapshot_entries = 4096;
	o->backup_keep = 7;
}

/* Splits argv into option/value pairs; calls fn for each, or collects the
 * positional mountpoint.  `only_config`: look for --config alone. */
static int options_from_argv(struct qfs_options *o, int argc, char **argv, bool only_config,
			     char *config, size_t configlen, char *err, size_t errlen)
{
	bool positional_only = false;
	int positionals = 0, argv_peers = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const struct opt_def *d = NULL;
		const char *val = NULL;
		if (positional_only || a[0] != '-' || a[1] == '\0') {
			if (only_config)
				continue;
			if (++positionals > 1)
				return set_err(err, errlen, "more than one MOUNTPOINT: '%s' (see --help)", a);
			snprintf(o->mountpoint, sizeof o->mountpoint, "%s", a);
			continue;
		}
		if (strcmp(a, "--") == 0) {
			positional_only = true;
			continue;
		}
		if (a[1] == '-') {
			const char *eq = strchr(a + 2, '=');
			size_t len = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
			d = opt_find(a + 2, len);
			if (eq)
				val = eq + 1;
		} else {
			for (size_t k = 0; k < OPT_COUNT; k++)
				if (opt_defs[k].short_name == a[1])
					d = &opt_defs[k];
			if (d && a[2])
				val = a + 2; /* -oallow_other */
		}
		if (!d)
			return set_err(err, errlen, "unknown option '%s' (see --help)", a);
		if (d->type != OPT_FLAG && !val) {
			if (i + 1 >= argc)
				return set_err(err, errlen, "option '%s' needs a value", a);
			val = argv[++i];
		}
		if (d->type == OPT_STR && d->size == 0) {
			snprintf(config, configlen, "%s", val);
			continue;
		}
		if (only_config)
			continue;
		if (d->type == OPT_PEER && !argv_peers++)
			o->n_peers = 0; /* the command line replaces config/env peers */
		if (opt_apply(o, d, val, "command line", err, errlen) < 0)
			return -1;
	}
	return 0;
}

/* TLS options and peer URLs agree: with --tls-* every peer URL is
 * tls+tcp://, without them none is. */
static int options_check_tls(const struct qfs_options *o, char *err, size_t errlen)
{
	int given = !!o->tls_cert[0] + !!o->tls_key[0] + !!o->tls_ca[0];
	if (given != 0 && given != 3)
		return set_err(err, errlen, "--tls-cert, --tls-key and --tls-ca go together");
	bool tls = given == 3;
	const char *urls[3 + QFS_OPT_MAX_PEERS] = {o->listen, o->advertise, o->join};
	const char *what[3 + QFS_OPT_MAX_PEERS] = {"--listen", "--advertise", "--join"};
	size_t n = 3;
	for (unsigned i = 0; i < o->n_peers; i++) {
		const char *eq = strchr(o->peers[i], '=');
		urls[n] = eq ? eq + 1 : "";
		what[n++] = "--peer";
	}
	for (size_t i = 0; i < n; i++) {
		if (!urls[i][0])
			continue;
		bool is_tls = strncmp(urls[i], "tls+tcp://", 10) == 0;
		if (tls && !is_tls)
			return set_err(err, errlen,
				       "%s %s: with --tls-cert/--tls-key/--tls-ca peer URLs are "
				       "tls+tcp://HOST:PORT", what[i], urls[i]);
		if (!tls && is_tls)
			return set_err(err, errlen,
				       "%s %s: a tls+tcp:// URL needs --tls-cert, --tls-key and --tls-ca",
				       what[i], urls[i]);
	}
	return 0;
}

int options_parse(struct qfs_options *o, int argc, char **argv, char *err, size_t errlen)
{
	char config[4096] = "";
	options_defaults(o);
	const char *envconf = getenv("QUORUMFS_CONFIG");
	if (envconf)
		snprintf(config, sizeof config, "%s", envconf);
	if (options_from_argv(o, argc, argv, true, config, sizeof config, err, errlen) < 0)
		return -1;
	if (config[0] && options_from_file(o, config, err, errlen) < 0)
		return -1;
	if (options_from_env(o, err, errlen) < 0)
		return -1;
	if (options_from_argv(o, argc, argv, false, config, sizeof config, err, errlen) < 0)
		return -1;
	if (o->help || o->version)
		return 0;
	if (!o->mountpoint[0])
		return set_err(err, errlen, "no MOUNTPOINT given (see --help)");
	if ((o->n_peers || o->join[0]) && !o->listen[0])
		return set_err(err, errlen, "--peer and --join need --listen URL");
	if (o->n_peers && o->join[0])
		return set_err(err, errlen, "--peer bootstraps a new cluster, --join joins one: not both");
	if (o->backup_every > 0 && !o->backup_dir[0])
		return set_err(err, errlen, "--backup-every needs --backup-dir DIR");
	if (o->backup_dir[0] && o->backup_every <= 0)
		o->backup_every = 3600.0;
	if (o->dead_after < 2 * o->heartbeat)
		return set_err(err, errlen, "--dead-after must be at least twice --heartbeat");
	if (o->heartbeat < 0.001 || o->election_timeout < 2 * o->heartbeat)
		return set_err(err, errlen, "--election-timeout must be at least twice --heartbeat (>= 1ms)");
	return options_check_tls(o, err, errlen);
}
