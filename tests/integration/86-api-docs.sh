#!/usr/bin/env bash
# 86-api-docs.sh: the API reference nginx serves at /api/v1/docs.
#
# The page is web/openapi.json rendered by Redocly's build-docs
# (build-aux/api-docs.sh; ./dev up builds it into the web root).  Checked:
#   1. GET /api/v1/docs is a 200 HTML page with its own CSP, loading
#      nothing from another origin;
#   2. it is the reference of this document: its title, version and every
#      operationId of web/openapi.json are in it;
#   3. it is exactly what build-aux/api-docs.sh makes from the current
#      web/openapi.json (a page left over from an older document fails).
. "$(dirname "$0")/lib.sh"

SRCDIR=${TASKAPI_SRCDIR:-$(dirname "$0")/../..}
SRCDIR=$(cd -- "$SRCDIR" && pwd) || bail "no source directory: $SRCDIR"
SPEC=$SRCDIR/web/openapi.json
[[ -f $SPEC ]] || bail "missing $SPEC"

# ------------------------------------------------------- 1. served as HTML

req GET /api/v1/docs --compressed
expect_status 200 "GET /api/v1/docs is 200"
PAGE=$T_DIR/docs.html
cp -- "$T_BODY" "$PAGE"
like "$(header Content-Type)" '^text/html; charset=utf-8$' "the reference is text/html; charset=utf-8"
csp=$(header Content-Security-Policy)
like "$csp" "script-src 'unsafe-inline'" "its CSP lets Redoc's inline script run"
like "$csp" "frame-ancestors 'none'" "its CSP still forbids framing"
if [[ $csp == *http* || $csp == *"*"* ]]; then
	fail "its CSP allows no other origin" "Content-Security-Policy: $csp"
else
	pass "its CSP allows no other origin"
fi
is "$(header X-Content-Type-Options)" nosniff "X-Content-Type-Options: nosniff"
# Nothing from a CDN: no external script or stylesheet.
ext=$(grep -oiE '<(script|link)[^>]*(src|href)="?(https?:)?//[^">]*' "$PAGE" | head -n 5)
is "$ext" "" "the page loads no script or stylesheet from another origin"

# ------------------------------------------- 2. the reference of this API

size=$(wc -c <"$PAGE")
num_cmp "$size" -gt 100000 "the page carries Redoc itself (${size} bytes)"
title=$(jq -r '.info.title' "$SPEC")
version=$(jq -r '.info.version' "$SPEC")
like "$(grep -o '<title>[^<]*</title>' "$PAGE" | head -n 1)" '<title>taskapi API reference</title>' \
	"the page's title is 'taskapi API reference'"
if grep -qF "\"$title\"" "$PAGE" && grep -qF "$version" "$PAGE"; then
	pass "the page holds the document's title ($title) and version ($version)"
else
	fail "the page holds the document's title ($title) and version ($version)"
fi
missing=""
nops=0
while IFS= read -r op; do
	nops=$((nops + 1))
	grep -qF "\"operationId\":\"$op\"" "$PAGE" || missing="$missing $op"
done < <(jq -r '.paths[][]? | objects | .operationId // empty' "$SPEC")
num_cmp "$nops" -ge 14 "web/openapi.json has its operations ($nops)"
is "${missing# }" "" "every operation of web/openapi.json is in the page"

# -------------------------------- 3. built from the current document

if [[ ! -x $SRCDIR/node_modules/.bin/redocly ]]; then
	skip "the page is build-aux/api-docs.sh's output for the current web/openapi.json" \
		"Redocly CLI not installed (npm ci in $SRCDIR)"
else
	fresh=$T_DIR/fresh.html
	if sh "$SRCDIR/build-aux/api-docs.sh" "$SRCDIR" "$fresh" 2>"$T_DIR/build.err"; then
		if cmp -s "$fresh" "$PAGE"; then
			pass "the page is build-aux/api-docs.sh's output for the current web/openapi.json"
		else
			fail "the page is build-aux/api-docs.sh's output for the current web/openapi.json" \
				"served $(wc -c <"$PAGE") bytes, fresh build $(wc -c <"$fresh") bytes: run ./dev up to rebuild"
		fi
	else
		fail "build-aux/api-docs.sh builds the reference" "$(tail -n 20 "$T_DIR/build.err")"
	fi
fi

done_testing
