/* quorumfs: options -> store -> node -> FUSE mount. */
#define FUSE_USE_VERSION 314
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fs/fs.h"
#include "net/http.h"
#include "node/node.h"
#include "options.h"
#include "quorumfs/error.h"
#include "store/store.h"
#include "util/log.h"
#include "util/sdnotify.h"

/* Detaches into the background.  The parent waits on a pipe and exits 0
 * only once the child reports the mount serving; the child's errors reach
 * the terminal until then.  Returns the fd the child signals on (-1 in the
 * foreground). */
static int daemon_detach(void)
{
	int fds[2];
	if (pipe(fds) < 0) {
		perror("quorumfs: pipe");
		exit(1);
	}
	pid_t pid = fork();
	if (pid < 0) {
		perror("quorumfs: fork");
		exit(1);
	}
	if (pid > 0) {
		close(fds[1]);
		char c;
		ssize_t n;
		do
			n = read(fds[0], &c, 1);
		while (n < 0 && errno == EINTR);
		if (n == 1 && c == 'R')
			exit(0);
		int status;
		waitpid(pid, &status, 0);
		exit(WIFEXITED(status) && WEXITSTATUS(status) ? WEXITSTATUS(status) : 1);
	}
	close(fds[0]);
	setsid();
	return fds[1];
}

static void daemon_ready(int fd)
{
	if (fd < 0)
		return;
	int null = open("/dev/null", O_RDWR);
	if (null >= 0) {
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		if (null > 2)
			close(null);
	}
	log_to_syslog("quorumfs");
	if (write(fd, "R", 1) != 1)
		log_warn("could not tell the parent that the mount is ready");
	close(fd);
	if (chdir("/") < 0)
		log_warn("chdir /: %s", strerror(errno));
}

/* A daemon killed hard leaves its mount behind ("Transport endpoint is not
 * connected"); a restarted node takes its place. */
static void clear_stale_mount(const char *mp)
{
	struct stat st;
	if (stat(mp, &st) == 0 || errno != ENOTCONN)
		return;
	log_warn("%s: stale mount of a dead daemon; detaching it", mp);
	if (umount2(mp, MNT_DETACH) < 0)
		log_warn("%s: could not detach the stale mount: %s", mp, strerror(errno));
}

/* --http: /metrics serves the same text as /cluster/.metrics. */
struct http_ctx {
	struct fs *fs;
	struct node *node;
};

static char *http_metrics(void *ctx, size_t *len)
{
	struct http_ctx *c = ctx;
	return fs_metrics_text(c->fs, len);
}

static int http_health(void *ctx, char *why, size_t cap)
{
	struct http_ctx *c = ctx;
	return node_health(c->node, why, cap);
}

static int mkdir_p(const char *path)
{
	char buf[4096];
	snprintf(buf, sizeof buf, "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(buf, 0700) < 0 && errno != EEXIST)
		return -1;
	return 0;
}

int main(int argc, char **argv)
{
	struct qfs_options o;
	char err[512];
	if (options_parse(&o, argc, argv, err, sizeof err) < 0) {
		fprintf(stderr, "quorumfs: %s\n", err);
		return 2;
	}
	if (o.help) {
		options_usage(stdout);
		return 0;
	}
	if (o.version) {
		printf("quorumfs %s\n", QFS_VERSION);
		return 0;
	}

	/* Under a service manager ($NOTIFY_SOCKET: systemd's Type=notify) the
	 * process it started must stay the daemon: no fork, as with -f. */
	int ready_fd = o.foreground || sdnotify_enabled() ? -1 : daemon_detach();
	if (ready_fd >= 0)
		log_set_level(LOG_LVL_WARN); /* the terminal hears only of problems */
	int exit_code = 1;
	struct store *store = NULL;
	struct node *node = NULL;
	struct fs *fs = NULL;
	struct fuse_session *se = NULL;
	struct fuse_loop_config *loop_cfg = NULL;
	struct qfs_http *http = NULL;
	struct http_ctx http_ctx = {0};
	bool mounted = false, signals = false, node_running = false, fs_running = false;
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);

	if (mkdir_p(o.data) < 0) {
		log_error("cannot create data directory %s: %s", o.data, strerror(errno));
		goto out;
	}
	/* Snapshots and the admin socket live under it: make it absolute
	 * before the daemon changes directory. */
	char abs_data[PATH_MAX];
	if (!realpath(o.data, abs_data)) {
		log_error("data directory %s: %s", o.data, strerror(errno));
		goto out;
	}
	snprintf(o.data, sizeof o.data, "%s", abs_data);
	if (o.backup_dir[0] && o.backup_dir[0] != '/') { /* the daemon changes directory */
		char cwd[PATH_MAX], abs_backup[sizeof o.backup_dir];
		if (!getcwd(cwd, sizeof cwd) ||
		    (size_t)snprintf(abs_backup, sizeof abs_backup, "%s/%s", cwd, o.backup_dir) >=
			    sizeof abs_backup) {
			log_error("--backup-dir %s: cannot make it absolute", o.backup_dir);
			goto out;
		}
		snprintf(o.backup_dir, sizeof o.backup_dir, "%s", abs_backup);
	}
	struct store_options so = {.map_size = o.map_size, .value_max = o.value_max};
	int rc = store_open(&store, o.data, &so);
	if (rc < 0) {
		log_error("cannot open the store in %s: %s", o.data, qfs_strerror(rc));
		goto out;
	}
	rc = node_claim_name(store, o.name, o.name_set, o.name, sizeof o.name);
	if (rc < 0)
		goto out;
	struct node_options no = {
		.name = o.name,
		.data_dir = o.data,
		.listen = o.listen[0] ? o.listen : NULL,
		.advertise = o.advertise[0] ? o.advertise : NULL,
		.join = o.join[0] ? o.join : NULL,
		.secret_file = o.secret_file[0] ? o.secret_file : NULL,
		.tls_cert = o.tls_cert[0] ? o.tls_cert : NULL,
		.tls_key = o.tls_key[0] ? o.tls_key : NULL,
		.tls_ca = o.tls_ca[0] ? o.tls_ca : NULL,
		.write_timeout_ms = (uint32_t)(o.write_timeout * 1000.0),
		.tick_ms = (uint32_t)(o.heartbeat * 1000.0 + 0.5),
		.snapshot_entries = o.snapshot_entries,
		.dead_after_ms = (uint32_t)(o.dead_after * 1000.0 + 0.5),
		.backup_dir = o.backup_dir[0] ? o.backup_dir : NULL,
		.backup_every_ms = (uint64_t)(o.backup_every * 1000.0 + 0.5),
		.backup_keep = o.backup_keep,
	};
	no.heartbeat_ticks = 1;
	no.election_ticks = (uint32_t)(o.election_timeout / o.heartbeat + 0.5);
	char peer_names[QFS_OPT_MAX_PEERS][256];
	for (unsigned i = 0; i < o.n_peers; i++) {
		char *eq = strchr(o.peers[i], '=');
		snprintf(peer_names[i], sizeof peer_names[i], "%.*s", (int)(eq - o.peers[i]), o.peers[i]);
		no.peers[i].name = peer_names[i];
		no.peers[i].url = eq + 1;
	}
	no.n_peers = o.n_peers;
	rc = node_new(&node, store, &no);
	if (rc < 0) {
		log_error("cannot start the node: %s", qfs_strerror(rc));
		goto out;
	}
	struct fs_options fo = {.entry_timeout = o.cache_timeout, .attr_timeout = o.cache_timeout,
				.linearizable = o.linearizable};
	rc = fs_new(&fs, store, node, &fo);
	if (rc < 0) {
		log_error("cannot set up the filesystem: %s", qfs_strerror(rc));
		goto out;
	}

	/* Kernel permission checks on the stored modes, for allow_other. */
	char fuse_opts[sizeof o.name + sizeof o.fuse_opts + 64];
	snprintf(fuse_opts, sizeof fuse_opts, "default_permissions,fsname=quorumfs:%s,subtype=quorumfs%s%s",
		 o.name, o.fuse_opts[0] ? "," : "", o.fuse_opts);
	char *fargv[] = {argv[0], "-o", fuse_opts, NULL};
	args = (struct fuse_args)FUSE_ARGS_INIT(3, fargv);
	se = fs_session_new(fs, &args);
	if (!se) {
		log_error("cannot create the FUSE session (bad -o option?)");
		goto out;
	}
	if (fuse_set_signal_handlers(se) != 0)
		goto out;
	signals = true;
	clear_stale_mount(o.mountpoint);
	if (fuse_session_mount(se, o.mountpoint) != 0) {
		log_error("cannot mount on %s", o.mountpoint);
		goto out;
	}
	mounted = true;
	if (fs_start(fs) < 0 || node_start(node) < 0) {
		log_error("cannot start threads");
		goto out;
	}
	fs_running = node_running = true;
	/* Before daemon_ready: a bad --http fails the start, on the terminal. */
	if (o.http[0]) {
		http_ctx = (struct http_ctx){.fs = fs, .node = node};
		rc = qfs_http_start(&http, o.http, http_metrics, http_health, &http_ctx);
		if (rc < 0) {
			const char *hint = rc == QFS_EINVAL ? " (expected http://HOST:PORT)" : "";
			log_error("cannot serve --http %s: %s%s", o.http, qfs_strerror(rc), hint);
			goto out;
		}
		log_info("serving /metrics and /health on %s", o.http);
	}
	daemon_ready(ready_fd);
	ready_fd = -1;
	char sd_state[sizeof o.name + sizeof o.mountpoint + 64];
	snprintf(sd_state, sizeof sd_state, "READY=1\nSTATUS=node %s serving %s", o.name, o.mountpoint);
	rc = sdnotify_send(sd_state);
	if (rc < 0)
		log_warn("cannot tell systemd READY=1 at $NOTIFY_SOCKET: %s", strerror(-rc));
	log_set_level(LOG_LVL_INFO);
	log_info("node %s serving %s from %s", o.name, o.mountpoint, o.data);

	loop_cfg = fuse_loop_cfg_create();
	fuse_loop_cfg_set_max_threads(loop_cfg, 64);
	fuse_loop_cfg_set_idle_threads(loop_cfg, 16);
	rc = fuse_session_loop_mt(se, loop_cfg);
	sdnotify_send("STOPPING=1");
	/* libfuse returns the signal number after SIGTERM/SIGINT/SIGHUP: a clean stop. */
	exit_code = rc == 0 || rc == SIGTERM || rc == SIGINT || rc == SIGHUP ? 0 : 1;
	if (exit_code)
		log_error("the FUSE session ended with an error (%d)", rc);
	log_info("node %s: unmounting %s", o.name, o.mountpoint);
out:
	/* No more HTTP callbacks into the node once it stops. */
	qfs_http_stop(http);
	/* Drain the node first: parked requests still get their replies. */
	if (node_running)
		node_stop(node);
	if (fs_running)
		fs_stop(fs);
	if (mounted)
		fuse_session_unmount(se);
	if (signals)
		fuse_remove_signal_handlers(se);
	if (se)
		fuse_session_destroy(se);
	if (loop_cfg)
		fuse_loop_cfg_destroy(loop_cfg);
	fuse_opt_free_args(&args); /* libfuse may have copied them */
	fs_free(fs);
	node_free(node);
	if (store)
		store_close(store);
	return exit_code;
}
