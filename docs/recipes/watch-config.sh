#!/bin/bash
# Reacting to configuration changes with `.watch`: `cat DIR/.watch` never
# ends and prints one line per committed change under DIR, from the moment
# it is opened: "REVISION put|delete PATH" (PATH from the mount root).
# A reloader opens the watch first and only then loads the current config:
# a change made in between shows up in the watch, and lines for revisions
# it has already loaded are skipped.
#
# Usage: watch-config.sh MOUNT [CHANGES]
# Keeps MOUNT/config/applied equal to "REVISION CONTENT" of
# MOUNT/config/app.conf while a background job (standing for an operator on
# another node) changes it CHANGES times (default 3): level=1, level=2, ...
# Exits 0 once the last change has been applied.
set -u
M=${1:?usage: watch-config.sh MOUNT [CHANGES]}
CHANGES=${2:-3}
C=$M/config
mkdir -p "$C"
[ -e "$C/app.conf" ] || echo level=0 >"$C/app.conf"

reload() {
	read -r loaded_rev <"$C/.rev/app.conf"
	loaded=$(cat "$C/app.conf")
	echo "$loaded_rev $loaded" >"$C/applied"
	echo "reloaded app.conf (revision $loaded_rev): $loaded"
}

exec {watch}<"$C/.watch" || exit 1 # the watch starts with this open
coproc WATCH { exec cat <&"$watch"; }
exec {watch}<&-
reload

(for i in $(seq 1 "$CHANGES"); do
	sleep 0.3
	echo "level=$i" >"$C/app.conf"
done) &

# The reloader's loop (a daemon would run it forever):
#   cat /cluster/config/.watch | while read -r rev op path; do ...; done
want=level=$CHANGES
while [ "$loaded" != "$want" ] && read -r -t 10 rev op path <&"${WATCH[0]}"; do
	case "$op $path" in
	"put config/app.conf" | "put "*/config/app.conf)
		[ "$rev" -gt "$loaded_rev" ] && reload
		;;
	esac
done
[ -n "${WATCH_PID:-}" ] && kill "$WATCH_PID"
wait
[ "$loaded" = "$want" ]
