#!/bin/bash
# shellcheck source=tests/integration/lib.sh
# quorumctl export / import (INTERFACE §6): export a tree with UTF-8 and
# binary values, modes, owners, an empty file and a symlink as JSON (UTF-8
# values as text, binary ones as base64 with "encoding": "base64", modes as
# octal strings); import it under another PATH on the same node and into a
# fresh node: the exports of both equal the original (modulo revision and
# root), and the files read back byte for byte. Importing again changes
# nothing. Bad JSON, a bad key and a conflict with the cluster are refused
# with a message, and nothing is imported.
. "$(dirname "$0")/lib.sh"
QFS_CTL=${QUORUMCTL_BIN:-$QFS_SRC_DIR/build/src/ctl/quorumctl}
qfs_setup
[ -x "$QFS_CTL" ] || die "quorumctl '$QFS_CTL' not found (set QUORUMCTL_BIN)"
command -v python3 >/dev/null || die "python3 is missing"
ctl() { timeout -k 2 60 "$QFS_CTL" --data "$QFS_DATA" "$@"; }

# normalize FILE: the keys of an export, without mtimes, one per line
# (what must survive an import elsewhere); norm_mtime: with file mtimes.
normalize() {
	python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["format"] == "quorumfs-export" and d["version"] == 1, "bad header"
for k in d["keys"]:
    if sys.argv[2] == "no-mtime" or k["type"] == "dir":
        k.pop("mtime", None)
    print(json.dumps(k, sort_keys=True))
' "$1" "$2" 2>&1
}

qfs_start
S=$M/src
mkdir -p "$S/conf/sub" "$S/private" || die "mkdir failed"
printf 'h\303\251llo w\303\266rld \342\234\223 \360\237\232\200\n' >"$S/conf/utf8" # héllo wörld ✓ 🚀
printf '\000\001\377\376\200binary\000' >"$S/conf/binary"
printf 'line "quoted" \\ back\tslash\n' >"$S/conf/escapes"
head -c 200000 /dev/urandom >"$T/big" && cp "$T/big" "$S/conf/big"
: >"$S/conf/empty"
printf 'x=1\n' >"$S/conf/sub/deep"
ln -s ../conf/utf8 "$S/private/link"
chmod 600 "$S/conf/utf8"
chmod 755 "$S/conf/escapes"
chmod 640 "$S/conf/sub/deep"
chmod 700 "$S/private"
chown 42:43 "$S/conf/binary"
touch -d @1600000000 "$S/conf/sub/deep"

ctl export /src >"$T/src.json" 2>"$T/err"
check_eq "$?" 0 "exit status of export /src" || die "export failed: $(cat "$T/err")"
python3 -m json.tool "$T/src.json" >/dev/null 2>&1 || fail "export is not valid JSON: $(head -c 300 "$T/src.json")"
grep -qF 'héllo wörld ✓ 🚀' "$T/src.json" || fail "the UTF-8 value is not in the export as text"
python3 - "$T/src.json" <<'EOF' || fail "export fields are not as documented"
import base64, json, sys
d = json.load(open(sys.argv[1]))
keys = {k["path"]: k for k in d["keys"]}
assert d["root"] == "/src", d["root"]
assert isinstance(d["revision"], int) and d["revision"] > 0
assert keys[""]["type"] == "dir"
b = keys["conf/binary"]
assert b["encoding"] == "base64" and base64.b64decode(b["value"]) == b"\x00\x01\xff\xfe\x80binary\x00", b
assert b["uid"] == 42 and b["gid"] == 43, b
assert keys["conf/utf8"]["value"] == "héllo wörld ✓ 🚀\n" and "encoding" not in keys["conf/utf8"]
assert keys["conf/utf8"]["mode"] == "0600" and keys["private"]["mode"] == "0700"
assert keys["conf/escapes"]["value"] == 'line "quoted" \\ back\tslash\n'
assert keys["conf/empty"]["value"] == ""
assert keys["private/link"] == {**keys["private/link"], "type": "symlink", "target": "../conf/utf8"}
assert keys["conf/sub/deep"]["mtime"].startswith("2020-09-13T12:26:40"), keys["conf/sub/deep"]
assert keys["conf/big"]["encoding"] == "base64" and len(base64.b64decode(keys["conf/big"]["value"])) == 200000
paths = [k["path"] for k in d["keys"]]
assert paths.index("conf") < paths.index("conf/sub") < paths.index("conf/sub/deep"), paths
EOF

# --- import under another PATH on the same node ---------------------------------
OUT=$(ctl import "$T/src.json" /copy/of/src 2>&1)
check_eq "$?" 0 "exit status of import under /copy/of/src" || qfs_log "$OUT"
qfs_log "import: $OUT"
ctl export /copy/of/src >"$T/copy.json" || fail "export of the copy failed"
check_eq "$(normalize "$T/copy.json" no-mtime)" "$(normalize "$T/src.json" no-mtime)" "export of the imported copy"
check_eq "$(normalize "$T/copy.json" mtime)" "$(normalize "$T/src.json" mtime)" "export of the imported copy, file mtimes included"
diff -r "$S" "$M/copy/of/src" >"$T/diff" 2>&1 || fail "files of the copy differ: $(head -n 5 "$T/diff")"
check_eq "$(stat -c '%a %u:%g' "$M/copy/of/src/conf/binary" "$M/copy/of/src/private" "$M/copy/of/src/conf/utf8" | tr '\n' ' ')" \
	"644 42:43 700 0:0 600 0:0 " "modes and owners of the copy"
check_eq "$(readlink "$M/copy/of/src/private/link")" "../conf/utf8" "symlink target in the copy"
# Again: nothing changes.
REV0=$(sed -n 's/^revision=//p' "$M/.status")
OUT=$(ctl import "$T/src.json" /copy/of/src 2>&1)
check_eq "$?" 0 "exit status of a second identical import"
[[ "$OUT" == *"0 created, 0 updated"* ]] || fail "a second identical import changed something: $OUT"
check_eq "$(sed -n 's/^revision=//p' "$M/.status")" "$REV0" "revision after an identical import"
# A changed value and mode are updated.
printf 'changed\n' >"$M/copy/of/src/conf/utf8"
chmod 666 "$M/copy/of/src/conf/escapes"
OUT=$(ctl import "$T/src.json" /copy/of/src 2>&1)
[[ "$OUT" == *"0 created, 2 updated"* ]] || fail "import over a changed copy: $OUT"
cmp -s "$S/conf/utf8" "$M/copy/of/src/conf/utf8" || fail "import did not restore the changed value"
check_eq "$(stat -c %a "$M/copy/of/src/conf/escapes")" 755 "mode restored by import"

# --- refusals: nothing imported ------------------------------------------------------
REV0=$(sed -n 's/^revision=//p' "$M/.status")
head -c 500 "$T/src.json" >"$T/truncated.json"
check_fails "bad JSON" "import of a truncated JSON file" -- "$QFS_CTL" --data "$QFS_DATA" import "$T/truncated.json" /bad1
echo 'not json at all' >"$T/text.json"
check_fails "bad JSON" "import of a text file" -- "$QFS_CTL" --data "$QFS_DATA" import "$T/text.json" /bad2
echo '{"format": "quorumfs-export", "version": 1, "keys": [{"path": "a", "type": "file", "value": "1"}, {"path": "b", "type": "file", "mode": "999"}]}' >"$T/badmode.json"
check_fails "mode" "import with a bad mode" -- "$QFS_CTL" --data "$QFS_DATA" import "$T/badmode.json" /bad3
echo '{"format": "quorumfs-export", "version": 1, "keys": [{"path": "a/../b", "type": "file"}]}' >"$T/badpath.json"
check_fails "path" "import with a bad path" -- "$QFS_CTL" --data "$QFS_DATA" import "$T/badpath.json" /bad4
echo '{"keys": []}' >"$T/other.json"
check_fails "not a quorumfs export" "import of another JSON document" -- "$QFS_CTL" --data "$QFS_DATA" import "$T/other.json" /bad5
# conf/utf8 is a file: a directory there (or keys below it) conflicts.
echo '{"format": "quorumfs-export", "version": 1, "keys": [{"path": "new", "type": "file", "value": "1"}, {"path": "conf/utf8/x", "type": "file", "value": "1"}]}' >"$T/conflict.json"
check_fails "conflict" "import that conflicts with the cluster" -- "$QFS_CTL" --data "$QFS_DATA" import "$T/conflict.json" /src
check_fails "no such key" "export of a missing path" -- "$QFS_CTL" --data "$QFS_DATA" export /no/such/path
for p in bad1 bad2 bad3 bad4 bad5 src/new; do
	[ -e "$M/$p" ] && fail "a refused import left /$p behind"
done
check_eq "$(sed -n 's/^revision=//p' "$M/.status")" "$REV0" "revision after refused imports"
qfs_stop

# --- into a fresh node --------------------------------------------------------------
QFS_DATA=$T/data2
qfs_start
OUT=$(ctl import "$T/src.json" /src 2>&1)
check_eq "$?" 0 "exit status of import into a fresh node" || qfs_log "$OUT"
ctl export /src >"$T/fresh.json" || fail "export on the fresh node failed"
check_eq "$(normalize "$T/fresh.json" no-mtime)" "$(normalize "$T/src.json" no-mtime)" "export of the fresh node"
cmp -s "$T/big" "$M/src/conf/big" || fail "the 200 KB value differs on the fresh node"
# Whole tree, no PATH: a root export imports at the root.
ctl export >"$T/all.json" || fail "export of the whole tree failed"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["root"] == "/" and d["keys"][0]["path"] == ""' "$T/all.json" ||
	fail "export without PATH is not of the root"
qfs_stop
qfs_done
