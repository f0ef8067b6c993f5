#!/bin/sh
# make-selfsigned.sh: a self-signed TLS certificate for the dev stack.
#
# usage: nginx/make-selfsigned.sh DIR
#
# Creates DIR/cert.pem (0644) and DIR/key.pem (0600): an ECDSA
# P-256 key and a certificate valid 365 days for localhost, 127.0.0.1 and
# ::1 (subjectAltName; CN=localhost).  Does nothing if both files exist;
# if only one exists, both are made again.  Non-interactive; uses its own
# OpenSSL config, so the system's openssl.cnf does not matter.
# Needs the openssl command (Debian package "openssl").
#
# Trust it instead of using -k:  curl --cacert DIR/cert.pem https://127.0.0.1:8443/health

set -eu

prog=${0##*/}
die() { printf '%s: %s\n' "$prog" "$*" >&2; exit 1; }

[ $# -eq 1 ] || die "usage: $prog DIR"
dir=$1
crt=$dir/cert.pem
key=$dir/key.pem

if [ -s "$crt" ] && [ -s "$key" ]; then
	exit 0
fi

command -v openssl >/dev/null 2>&1 ||
    die "openssl not found; install it with: apt-get install openssl"

mkdir -p "$dir"
umask 077
tmp=$(mktemp -d "$dir/.selfsigned.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

cat >"$tmp/req.cnf" <<'EOF'
[req]
distinguished_name = dn
x509_extensions    = ext
prompt             = no

[dn]
CN = localhost

[ext]
basicConstraints       = critical, CA:FALSE
keyUsage               = critical, digitalSignature
extendedKeyUsage       = serverAuth
subjectAltName         = DNS:localhost, IP:127.0.0.1, IP:::1
subjectKeyIdentifier   = hash
EOF

openssl req -x509 -config "$tmp/req.cnf" \
    -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$tmp/key" -out "$tmp/crt" -days 365 -sha256 2>"$tmp/err" || {
	cat "$tmp/err" >&2
	die "openssl req failed"
}

chmod 0600 "$tmp/key"
chmod 0644 "$tmp/crt"
# Key first: a crt without its key is never left behind.
mv -f "$tmp/key" "$key"
mv -f "$tmp/crt" "$crt"
echo "$prog: wrote $crt and $key"
