#!/usr/bin/env bash
# tests/platform/make-certs.sh DIR - the certificates the sandbox platform and
# the TLS tests need, made with the openssl CLI alone, into DIR.
#
# Why this exists: mutual TLS is the lab's identity (docs/protocol.md), so the
# tests need a CA, a server and a lab client, and every way they can go wrong:
# a client and a server from another CA, an expired server, a server for the
# wrong host, clients close to expiry. None of it is committed: certificates
# expire and private keys do not belong in git. Run it again at any time.
#
#   DIR/ca.pem ca.key                   the test CA (kept if still valid > 30 days)
#   DIR/server.pem server.key           localhost, 127.0.0.1, ::1 (serverAuth)
#   DIR/client.pem client.key           lab "test-lab" (CN and DNS SAN, clientAuth)
#   DIR/other-ca.pem other-ca.key       an unrelated CA (kept like ca.pem)
#   DIR/other-client.pem other-client.key   CN=test-lab, from the other CA
#   DIR/other-server.pem other-server.key   localhost, from the other CA
#   DIR/expired-server.pem .key         localhost, test CA, expired yesterday
#   DIR/wronghost-server.pem .key       test CA, for wrong.example only
#   DIR/soon-client.pem .key            test-lab, expires in 5 days
#   DIR/month-client.pem .key           test-lab, expires in 20 days
#
# Keys are EC P-256 and mode 0600; certificates 0644. Exits non-zero on any
# failure, leaving no half-written file under a final name.
set -euo pipefail

if [ $# -ne 1 ] || [ -z "$1" ]; then
        echo "usage: $0 DIR" >&2
        exit 2
fi
command -v openssl >/dev/null || { echo "make-certs: openssl not found" >&2; exit 1; }

umask 077
out=$1
mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d "$out/.make-certs.XXXXXX")
trap 'rm -rf "$work"' EXIT

LAB=test-lab

# newkey NAME: a P-256 private key in $work/NAME.key
newkey() {
        openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
                -pkeyopt ec_param_enc:named_curve -out "$work/$1.key" 2>/dev/null
}

# serial: a random positive 127-bit serial number in hex
serial() {
        printf '0x7%s' "$(openssl rand -hex 15 | cut -c2-)"
}

# ext_server HOSTS...: an extension file for a TLS server certificate
ext_server() {
        local san="" h
        for h in "$@"; do
                case $h in
                *:*|[0-9]*.[0-9]*.[0-9]*.[0-9]*) san="$san${san:+,}IP:$h" ;;
                *) san="$san${san:+,}DNS:$h" ;;
                esac
        done
        printf '%s\n' \
                "basicConstraints=critical,CA:FALSE" \
                "keyUsage=critical,digitalSignature" \
                "extendedKeyUsage=serverAuth" \
                "subjectAltName=$san" \
                "subjectKeyIdentifier=hash" \
                "authorityKeyIdentifier=keyid"
}

# ext_client LAB: an extension file for a lab's client certificate
ext_client() {
        printf '%s\n' \
                "basicConstraints=critical,CA:FALSE" \
                "keyUsage=critical,digitalSignature" \
                "extendedKeyUsage=clientAuth" \
                "subjectAltName=DNS:$1" \
                "subjectKeyIdentifier=hash" \
                "authorityKeyIdentifier=keyid"
}

# make_ca NAME CN: reuse DIR/NAME.pem + .key if they match and stay valid
# for 30 more days, else make a new self-signed CA (10 years).
make_ca() {
        local name=$1 cn=$2
        if [ -s "$out/$name.pem" ] && [ -s "$out/$name.key" ] &&
                openssl x509 -in "$out/$name.pem" -noout -checkend $((30 * 86400)) >/dev/null 2>&1 &&
                [ "$(openssl x509 -in "$out/$name.pem" -noout -pubkey 2>/dev/null)" = \
                  "$(openssl pkey -in "$out/$name.key" -pubout 2>/dev/null)" ]; then
                cp "$out/$name.pem" "$work/$name.pem"
                cp "$out/$name.key" "$work/$name.key"
                return
        fi
        newkey "$name"
        openssl req -new -x509 -key "$work/$name.key" -out "$work/$name.pem" \
                -days 3650 -sha256 -subj "/O=labagent tests/CN=$cn" -set_serial "$(serial)" \
                -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
                -addext "keyUsage=critical,keyCertSign,cRLSign" \
                -addext "subjectKeyIdentifier=hash" 2>/dev/null
}

# leaf NAME CA DAYS SUBJECT-CN EXTFILE-CONTENT: a key and a certificate
# signed by CA, valid from now for DAYS days.
leaf() {
        local name=$1 ca=$2 days=$3 cn=$4 ext=$5
        newkey "$name"
        printf '%s\n' "$ext" >"$work/$name.ext"
        openssl req -new -key "$work/$name.key" -subj "/O=labagent tests/CN=$cn" \
                -out "$work/$name.csr" 2>/dev/null
        openssl x509 -req -in "$work/$name.csr" -CA "$work/$ca.pem" -CAkey "$work/$ca.key" \
                -set_serial "$(serial)" -days "$days" -sha256 \
                -extfile "$work/$name.ext" -out "$work/$name.pem" 2>/dev/null
}

# expired NAME CA CN EXTFILE-CONTENT: a certificate valid from 30 days ago
# until yesterday. `openssl x509 -req` (3.0) cannot backdate notBefore;
# `openssl ca` can, with -startdate/-enddate and a throwaway database.
expired() {
        local name=$1 ca=$2 cn=$3 ext=$4 d="$work/ca-db"
        newkey "$name"
        openssl req -new -key "$work/$name.key" -subj "/O=labagent tests/CN=$cn" \
                -out "$work/$name.csr" 2>/dev/null
        mkdir -p "$d/new"
        : >"$d/index.txt"
        openssl rand -hex 16 | sed 's/^./7/' >"$d/serial"
        {
                printf '%s\n' "[ca]" "default_ca=sandbox" "[sandbox]" \
                        "database=$d/index.txt" "new_certs_dir=$d/new" "serial=$d/serial" \
                        "default_md=sha256" "policy=anything" "unique_subject=no" \
                        "copy_extensions=none" "preserve=yes" "[anything]" \
                        "organizationName=optional" "commonName=supplied" "[leaf]"
                printf '%s\n' "$ext"
        } >"$d/ca.cnf"
        openssl ca -batch -notext -config "$d/ca.cnf" -extensions leaf \
                -cert "$work/$ca.pem" -keyfile "$work/$ca.key" -in "$work/$name.csr" \
                -startdate "$(date -u -d '30 days ago' +%Y%m%d%H%M%SZ)" \
                -enddate "$(date -u -d '1 day ago' +%Y%m%d%H%M%SZ)" \
                -out "$work/$name.pem" 2>"$d/ca.log" || { cat "$d/ca.log" >&2; return 1; }
}

make_ca ca "labagent test CA"
make_ca other-ca "labagent other CA"

leaf server ca 825 localhost "$(ext_server localhost 127.0.0.1 ::1)"
leaf client ca 825 "$LAB" "$(ext_client "$LAB")"
leaf other-client other-ca 825 "$LAB" "$(ext_client "$LAB")"
leaf other-server other-ca 825 localhost "$(ext_server localhost 127.0.0.1 ::1)"
leaf wronghost-server ca 825 wrong.example "$(ext_server wrong.example)"
leaf soon-client ca 5 "$LAB" "$(ext_client "$LAB")"
leaf month-client ca 20 "$LAB" "$(ext_client "$LAB")"
expired expired-server ca localhost "$(ext_server localhost 127.0.0.1 ::1)"

# Check what was made before it replaces anything.
for n in server client soon-client month-client wronghost-server; do
        openssl verify -CAfile "$work/ca.pem" "$work/$n.pem" >/dev/null
done
for n in other-client other-server; do
        openssl verify -CAfile "$work/other-ca.pem" "$work/$n.pem" >/dev/null
done
if openssl x509 -in "$work/expired-server.pem" -noout -checkend 0 >/dev/null; then
        echo "make-certs: expired-server.pem is not expired" >&2
        exit 1
fi

names="ca other-ca server client other-client other-server expired-server
wronghost-server soon-client month-client"
for n in $names; do
        chmod 0600 "$work/$n.key"
        chmod 0644 "$work/$n.pem"
        mv -f "$work/$n.key" "$out/$n.key"
        mv -f "$work/$n.pem" "$out/$n.pem"
done
echo "make-certs: certificates for lab $LAB in $out" >&2
