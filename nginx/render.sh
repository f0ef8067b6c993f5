#!/bin/sh
# render.sh: substitute the @NAME@ placeholders of the taskapi nginx files.
#
# usage: nginx/render.sh OUTDIR NAME=VALUE...
#
# Writes every nginx/*.conf and nginx/*.conf.in into OUTDIR, dropping the
# ".in" (site.conf.in -> site.conf, nginx-dev.conf.in -> nginx-dev.conf).
# NGINX_DIR defaults to the absolute path of OUTDIR.  nginx-dev.conf is
# rendered only when VAR= is given (a Debian host install does not use it).
# Fails, naming file and placeholder, if any @NAME@ is left unsubstituted,
# and on names that are not placeholders (typos).  Values may contain any
# character but a newline.
#
# Example (what the dev stack needs):
#   nginx/render.sh var/nginx/conf VAR="$PWD/var" WEB_ROOT="$PWD/web" \
#       FCGI_SOCKET="$PWD/var/run/taskapi.sock" LISTEN=127.0.0.1:8080 \
#       TLS_LISTEN=127.0.0.1:8443 TLS_CERT="$PWD/var/tls/cert.pem" \
#       TLS_KEY="$PWD/var/tls/key.pem" \
#       CORS_ORIGIN=http://127.0.0.1:8080 RATE_AUTH=10r/s RATE_AUTH_BURST=20

set -eu

PLACEHOLDERS='LISTEN TLS_LISTEN TLS_CERT TLS_KEY FCGI_SOCKET FCGI_EV_SOCKET VAR NGINX_DIR WEB_ROOT CORS_ORIGIN RATE_AUTH RATE_AUTH_BURST'

prog=${0##*/}
die() { printf '%s: %s\n' "$prog" "$*" >&2; exit 1; }

[ $# -ge 1 ] || die "usage: $prog OUTDIR NAME=VALUE..."
srcdir=$(cd "$(dirname "$0")" && pwd)
outdir=$1
shift
mkdir -p "$outdir"
outdir=$(cd "$outdir" && pwd)
[ "$outdir" != "$srcdir" ] || die "OUTDIR must not be the source directory"

script=$(mktemp)
trap 'rm -f "$script"' EXIT INT TERM

have_nginx_dir=no
have_var=no
for arg in "$@"; do
	case $arg in
	*=*) ;;
	*) die "not NAME=VALUE: $arg" ;;
	esac
	name=${arg%%=*}
	value=${arg#*=}
	case " $PLACEHOLDERS " in
	*" $name "*) ;;
	*) die "unknown placeholder: $name (known: $PLACEHOLDERS)" ;;
	esac
	case $value in
	*'
'*) die "$name: value contains a newline" ;;
	esac
	[ "$name" = NGINX_DIR ] && have_nginx_dir=yes
	[ "$name" = VAR ] && have_var=yes
	# Escape what is special in a sed replacement: \ & and the delimiter.
	esc=$(printf '%s\n' "$value" | sed -e 's/[\\&|]/\\&/g')
	printf 's|@%s@|%s|g\n' "$name" "$esc" >>"$script"
done
[ "$have_nginx_dir" = yes ] || printf 's|@NGINX_DIR@|%s|g\n' \
    "$(printf '%s\n' "$outdir" | sed -e 's/[\\&|]/\\&/g')" >>"$script"

status=0
for src in "$srcdir"/*.conf "$srcdir"/*.conf.in; do
	[ -f "$src" ] || continue
	base=${src##*/}
	base=${base%.in}
	if [ "$base" = nginx-dev.conf ] && [ "$have_var" = no ]; then
		continue
	fi
	sed -f "$script" "$src" >"$outdir/$base.tmp"
	left=$(grep -o '@[A-Z][A-Z_]*@' "$outdir/$base.tmp" | sort -u | tr '\n' ' ' | sed 's/ $//' || :)
	if [ -n "$left" ]; then
		printf '%s: %s: no value for %s\n' "$prog" "$base" "$left" >&2
		rm -f "$outdir/$base.tmp"
		status=1
		continue
	fi
	mv "$outdir/$base.tmp" "$outdir/$base"
done
exit $status
