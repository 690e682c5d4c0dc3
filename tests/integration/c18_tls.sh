#!/bin/bash
# shellcheck source=tests/integration/cluster_lib.sh
# --tls-cert/--tls-key/--tls-ca (INTERFACE §1, §7; docs/usage.md "Securing
# peer traffic"). A CA and node certificates are made with openssl in $T:
# - options that disagree (certificates with tcp:// URLs, one file of three,
#   an unreadable certificate, a missing CA) refuse the start with a message;
# - three voters over tls+tcp:// with mutual authentication (and the same
#   --secret-file: both combine) replicate;
# - a node whose certificate comes from another CA cannot join, although it
#   holds the secret and trusts our CA (the listener refuses its
#   certificate), and an impostor from another PKI with the real name n3 and
#   --peer list cannot move the leader or the term for 5 s while writes
#   keep succeeding; the refused handshakes are counted in .metrics and
#   logged a few times at most;
# - a plain TCP client (peer_garbage.py) on a TLS port gets no SP handshake
#   and the cluster keeps working;
# - a node listening on 0.0.0.0 without a secret or TLS warns once at start
#   (and does not with TLS).
. "$(dirname "$0")/cluster_lib.sh"
command -v python3 >/dev/null || skip "python3 is missing"
command -v openssl >/dev/null || die "openssl is missing (scripts/deps.sh installs it)"
GARBAGE=$(dirname "$0")/peer_garbage.py
cl_setup 7

# ---- a PKI in $T ---------------------------------------------------------------
P=$T/pki
mkdir -p "$P"
printf '%s\n' 'basicConstraints=CA:FALSE' 'keyUsage=digitalSignature,keyEncipherment' \
	'extendedKeyUsage=serverAuth,clientAuth' 'subjectAltName=DNS:localhost,IP:127.0.0.1' >"$P/ext.cnf"
mkca() { # NAME: a self-signed CA NAME.crt/NAME.key
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
		-keyout "$P/$1.key" -out "$P/$1.crt" -subj "/CN=quorumfs test $1" >>"$P/openssl.log" 2>&1 ||
		die "openssl could not make CA $1 (see $P/openssl.log)"
}
mkcert() { # NAME CA: NAME.crt signed by CA, NAME.key
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$P/$1.key" \
		-out "$P/$1.csr" -subj "/CN=$1" >>"$P/openssl.log" 2>&1 &&
		openssl x509 -req -in "$P/$1.csr" -CA "$P/$2.crt" -CAkey "$P/$2.key" -CAcreateserial \
			-days 2 -extfile "$P/ext.cnf" -out "$P/$1.crt" >>"$P/openssl.log" 2>&1 ||
		die "openssl could not make the certificate of $1 (see $P/openssl.log)"
	chmod 600 "$P/$1.key"
}
mkca ca
mkca otherca
for n in n1 n2 n3; do mkcert "$n" ca; done
mkcert evil otherca
tls() { echo --tls-cert "$P/$1.crt" --tls-key "$P/$1.key" --tls-ca "$P/$2.crt"; }
SECRET=$T/secret
head -c 32 /dev/urandom >"$SECRET"
chmod 600 "$SECRET"

# ---- options that disagree refuse the start ---------------------------------------
refused() { # WHAT TEXT ARGS...
	local what=$1 text=$2 out rc
	shift 2
	mkdir -p "$T/bad/m"
	out=$(timeout -k 2 20 "$QFS_BIN" -f --name bad --data "$T/bad/d" "$@" "$T/bad/m" 2>&1 </dev/null)
	rc=$?
	[ $rc != 0 ] && [ $rc != 124 ] || fail "$what: the daemon exited $rc (expected a refusal)"
	[[ $out == *"$text"* ]] || fail "$what: no '$text' in: $(tail -n 2 <<<"$out" | tr '\n' '|')"
	qfs_is_mounted "$T/bad/m" && fusermount3 -uz "$T/bad/m"
}
BADURL=tcp://127.0.0.1:${CL_PORT[6]}
# shellcheck disable=SC2046
refused "certificates with a tcp:// URL" "peer URLs are tls+tcp://" --listen "$BADURL" $(tls n1 ca)
refused "a tcp:// --peer with certificates" "peer URLs are tls+tcp://" --listen "tls+tcp://127.0.0.1:${CL_PORT[6]}" \
	--peer "bad=tls+tcp://127.0.0.1:${CL_PORT[6]}" --peer "x=$BADURL" $(tls n1 ca)
refused "one TLS file of three" "go together" --listen "tls+tcp://127.0.0.1:${CL_PORT[6]}" --tls-cert "$P/n1.crt"
refused "a certificate that is not one" "--tls-cert $P/ext.cnf" --listen "tls+tcp://127.0.0.1:${CL_PORT[6]}" \
	--tls-cert "$P/ext.cnf" --tls-key "$P/n1.key" --tls-ca "$P/ca.crt"
refused "a missing CA" "--tls-ca $P/none.crt" --listen "tls+tcp://127.0.0.1:${CL_PORT[6]}" \
	--tls-cert "$P/n1.crt" --tls-key "$P/n1.key" --tls-ca "$P/none.crt"

# ---- three voters over TLS (and a secret) ---------------------------------------------
for i in $(seq 1 "$CL_N"); do CL_URL[i]=tls+tcp://127.0.0.1:${CL_PORT[i]}; done
# shellcheck disable=SC2046
for i in 1 2 3; do cl_start "$i" $(tls "${CL_NAME[i]}" ca) --secret-file "$SECRET"; done
cl_wait_leader 15 || die "no leader among 3 nodes over TLS within 15 s"
for i in 1 2 3; do
	cl_write_retry "${CL_MNT[i]}/from-${CL_NAME[i]}" "v${CL_NAME[i]}" 10 ||
		fail "a write on ${CL_NAME[i]} over TLS did not succeed"
done
for i in 1 2 3; do cl_sync "$i" 10 1 2 3; done
for i in 1 2 3; do
	for j in 1 2 3; do
		check_content "${CL_MNT[i]}/from-${CL_NAME[j]}" "v${CL_NAME[j]}"$'\n' "write on ${CL_NAME[j]} read on ${CL_NAME[i]} (TLS)"
	done
done

ACCEPT='quorumfs_peer_tls_handshake_failures_total{side="accept"}'
check_eq "$(cl_metric 1 "$ACCEPT")" 0 "TLS handshake failures on n1 before any intruder"

# ---- a certificate from another CA ---------------------------------------------
cl_wait_leader 10 || fail "no stable leader before the intruders"
L=$CL_LEADER LNAME=${CL_NAME[CL_LEADER]}
TERM0=$(cl_field "$L" term)
# n4 holds the secret and trusts our CA, but its own certificate is not ours.
# shellcheck disable=SC2046
cl_start_join 4 1 $(tls evil ca) --secret-file "$SECRET"
# An impostor from another PKI, with n3's name and the real --peer list.
CL_NAME[5]=n3
# shellcheck disable=SC2046
cl_start 5 $(tls evil otherca) --secret-file "$SECRET"
end=$(($(now_ms) + 5000))
k=0
while [ "$(now_ms)" -lt "$end" ]; do
	k=$((k + 1))
	for i in 1 2 3; do
		st=$(cl_ctl "$i" status 2>/dev/null)
		lead=$(sed -n 's/^leader=//p' <<<"$st")
		term=$(sed -n 's/^term=//p' <<<"$st")
		[ "$lead" = "$LNAME" ] && [ "$term" = "$TERM0" ] ||
			fail "with the impostor running, ${CL_NAME[i]} says leader '$lead' term '$term' (was $LNAME, term $TERM0)"
	done
	{ echo "$k" >"${CL_MNT[L]}/during-intruders-$k"; } 2>/dev/null || fail "write $k on the leader failed with intruders running"
	sleep 0.5
done
{ echo inject >"${CL_MNT[4]}/inject"; } 2>/dev/null && fail "a write on n4 (not let in) succeeded"
cl_sync "$L" 10 1 2 3
for i in 1 2 3; do
	members=$(cl_ctl "$i" members 2>&1)
	grep -qw n4 <<<"$members" && fail "quorumctl members on ${CL_NAME[i]} lists n4: $(tr '\n' '|' <<<"$members")"
	[ -e "${CL_MNT[i]}/members/n4" ] && fail "members/ on ${CL_NAME[i]} lists n4"
	[ -e "${CL_MNT[i]}/inject" ] && fail "n4's write reached ${CL_NAME[i]}"
done
for i in 4 5; do
	got=$(ls "${CL_MNT[i]}" 2>&1 | tr '\n' ' ')
	[ -z "$got" ] || fail "slot $i (${CL_NAME[i]}, a foreign certificate) shows cluster data: $got"
done
qfs_log "intruders: n4 role=$(cl_field 4 role), impostor n3 role=$(cl_field 5 role) term=$(cl_field 5 term); $k rounds of checks"
cl_stop 4
cl_stop 5

# ---- a plain TCP client on a TLS port ------------------------------------------------
PEERLIST=$(for i in 1 2 3; do printf '%s=%s,' "${CL_NAME[i]}" "${CL_URL[i]}"; done)
PEERLIST=${PEERLIST%,}
for n in 1 2 3; do
	out=$(timeout -k 5 90 python3 "$GARBAGE" raw 127.0.0.1 "${CL_PORT[n]}" --peers "$PEERLIST" --to "${CL_NAME[n]}" --seed "$n" 2>&1)
	rc=$?
	echo "$out" >>"$T/garbage.out"
	[ $rc = 0 ] || fail "raw garbage to ${CL_NAME[n]}'s TLS port: sender failed (rc $rc)"
	out=$(timeout -k 5 90 python3 "$GARBAGE" framed 127.0.0.1 "${CL_PORT[n]}" --peers "$PEERLIST" --to "${CL_NAME[n]}" --seed "$n" 2>&1)
	echo "$out" >>"$T/garbage.out"
	grep -q "no SP handshake answer" <<<"$out" ||
		fail "a plain TCP client got past ${CL_NAME[n]}'s TLS port: $(head -n 3 <<<"$out" | tr '\n' '|')"
done
for i in 1 2 3; do
	cl_write_retry "${CL_MNT[i]}/after-garbage-${CL_NAME[i]}" "g" 10 ||
		fail "a write on ${CL_NAME[i]} failed after the plain TCP clients"
done

# ---- counted, and logged a few times ---------------------------------------------------
end=$(($(now_ms) + 5000))
while [ "$(cl_metric 1 "$ACCEPT")" -lt 5 ] && [ "$(now_ms)" -lt "$end" ]; do sleep 0.2; done
total=0
for i in 1 2 3; do
	a=$(cl_metric "$i" "$ACCEPT")
	total=$((total + a))
	lines=$(grep -c 'failed the TLS handshake' "${CL_LOG[i]}")
	qfs_log "${CL_NAME[i]}: $a refused TLS handshakes, $lines log lines"
	[ "$lines" -le 3 ] || fail "${CL_NAME[i]} logged $lines lines for refused TLS handshakes (at most one a minute)"
done
[ "$(cl_metric 1 "$ACCEPT")" -ge 5 ] || fail "n1 counted $(cl_metric 1 "$ACCEPT") refused TLS handshakes (n4 joins through it)"
grep -q 'failed the TLS handshake' "${CL_LOG[1]}" || fail "n1 logged no refused TLS handshake"
grep -q 'TLS handshake(s) with peers we dial failed' "${CL_LOG[4]}" ||
	note "n4 did not log its failed handshakes (it stopped within the first poll?)"

cl_wait_leader 10 || fail "no stable leader at the end"
cl_sync "$CL_LEADER" 10 1 2 3
cl_check_same_tree "after the intruders (TLS)" 1 2 3

# ---- the warning for an open listener ----------------------------------------------------
CL_URL[7]=tls+tcp://0.0.0.0:${CL_PORT[7]}
# shellcheck disable=SC2046
_cl_launch 7 $(tls n1 ca)
cl_stop 7
grep -q 'beyond loopback' "${CL_LOG[7]}" && fail "a TLS listener on 0.0.0.0 was warned about"
CL_URL[7]=tcp://0.0.0.0:${CL_PORT[7]}
_cl_launch 7
cl_stop 7
c=$(grep -c 'listening on tcp://0.0.0.0:[0-9]* beyond loopback with neither --secret-file nor TLS' "${CL_LOG[7]}")
check_eq "$c" 1 "warning lines for a plain listener on 0.0.0.0"
cl_done
