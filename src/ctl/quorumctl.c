/* quorumctl: the admin CLI; talks to the local daemon's admin socket. */
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CTL_TIMEOUT_MS 15000

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
		   "                          run it on the leader\n\n"
		   "The daemon is found through DIR/admin.sock (DIR: --data, else $QUORUMFS_DATA,\n"
		   "else /var/lib/quorumfs).  Exit status: 0 done, 1 refused or failed, 2 usage,\n"
		   "3 no daemon.\n");
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
	if (!strcmp(cmd, "status") || !strcmp(cmd, "members"))
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
	if (nargs < want_min || nargs > want_max) {
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
		nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, CTL_TIMEOUT_MS);
		nng_socket_set_ms(s, NNG_OPT_SENDTIMEO, CTL_TIMEOUT_MS);
		rv = nng_dial(s, url, NULL, 0);
	}
	if (rv != 0) {
		fprintf(stderr, "quorumctl: no quorumfs daemon at %s: %s\n", url, nng_strerror(rv));
		return 3;
	}
	char *buf = NULL;
	size_t len = 0;
	rv = nng_send(s, req, strlen(req), 0);
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
