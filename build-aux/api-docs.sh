#!/bin/sh
# api-docs.sh SRCDIR OUT: renders web/openapi.json into one self-contained
# HTML page (the API reference nginx serves at /api/v1/docs) with Redocly
# CLI's build-docs.
#
# Redocly CLI is a test and documentation tool pinned in package-lock.json
# (npm ci in SRCDIR installs it); nothing from npm is built into taskapi.
# --inlineBundle puts Redoc's script in the page itself: the page loads
# nothing from a CDN, like the rest of web/.  The output depends only on
# the document and the pinned Redocly version (two builds compare equal),
# so tests/integration/86-api-docs.sh can rebuild it and compare.
#
# Exit status: 0 built; 2 Redocly CLI is not installed (nothing written);
# 1 the build failed.
set -eu

srcdir=$1
out=$2
redocly=$srcdir/node_modules/.bin/redocly
case $out in /*) ;; *) out=$PWD/$out ;; esac

if [ ! -x "$redocly" ]; then
	echo "api-docs.sh: $redocly missing (run npm ci in $srcdir)" >&2
	exit 2
fi
# No telemetry, no update check.
REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true NO_UPDATE_NOTIFIER=1
export REDOCLY_TELEMETRY REDOCLY_SUPPRESS_UPDATE_NOTICE NO_UPDATE_NOTIFIER

tmp=$out.tmp.$$
trap 'rm -f "$tmp" "$tmp.log"' EXIT
# From SRCDIR, so Redocly reads the repository's redocly.yaml.  Its banners
# are shown only when the build fails.
if ! (cd "$srcdir" && "$redocly" build-docs web/openapi.json --inlineBundle \
	--title 'taskapi API reference' --output "$tmp") >"$tmp.log" 2>&1 </dev/null; then
	cat "$tmp.log" >&2
	exit 1
fi
mv "$tmp" "$out"
