#!/usr/bin/env bash
# 85-openapi.sh: the OpenAPI document (web/openapi.json).
#
#   1. Redocly CLI (npm, pinned in package-lock.json) lints it with the
#      repository's redocly.yaml: no error, no warning, nothing ignored.
#   2. nginx serves it at /api/v1/openapi.json, as JSON, byte for byte.
#   3. tests/openapi/validate.mjs drives every operation of the real stack
#      and checks each response against the document (declared status,
#      body schema, required headers); its TAP lines are spliced into this
#      file's stream, which has one plan, printed last.
. "$(dirname "$0")/lib.sh"

SRCDIR=${TASKAPI_SRCDIR:-$(dirname "$0")/../..}
SRCDIR=$(cd -- "$SRCDIR" && pwd) || bail "no source directory: $SRCDIR"
SPEC=$SRCDIR/web/openapi.json

command -v node >/dev/null 2>&1 || skip_all "node not installed"
command -v npx >/dev/null 2>&1 || skip_all "npx not installed"
[[ -x $SRCDIR/node_modules/.bin/redocly && -d $SRCDIR/node_modules/ajv && -d $SRCDIR/node_modules/ajv-formats ]] ||
	skip_all "npm test tools not installed (npm ci in $SRCDIR)"
[[ -f $SPEC ]] || bail "missing $SPEC"

# No telemetry, no update check, no npm chatter.
export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true NO_UPDATE_NOTIFIER=1

# ---------------------------------------------------------------- 1. lint

LINT_OUT=$T_DIR/lint.json
LINT_ERR=$T_DIR/lint.stderr
(cd -- "$SRCDIR" && npx --no-install redocly lint web/openapi.json --format=json) \
    >"$LINT_OUT" 2>"$LINT_ERR" </dev/null
lint_rc=$?

lint_problems() {
	jq -r '.problems[]? | "\(.severity) \(.ruleId): \(.message) at \(.location[0].pointer // "?")"' \
	    "$LINT_OUT" 2>/dev/null | head -n 40
	grep -v -e '^[[:space:]]*$' -e '[║╔╚]' -e 'Unknown user config' "$LINT_ERR" | head -n 20
}

if [[ $lint_rc -eq 0 ]]; then
	pass "redocly lint web/openapi.json exits 0"
else
	fail "redocly lint web/openapi.json exits 0" "exit status $lint_rc"$'\n'"$(lint_problems)"
fi
for kind in errors warnings ignored; do
	got=$(jq -r ".totals.$kind" "$LINT_OUT" 2>/dev/null)
	if [[ $got == 0 ]]; then
		pass "redocly lint: 0 $kind"
	else
		fail "redocly lint: 0 $kind" "totals.$kind: ${got:-no JSON report}"$'\n'"$(lint_problems)"
	fi
done
if grep -q 'No configurations were provided' "$LINT_ERR"; then
	fail "redocly lint uses the repository's redocly.yaml" "$(lint_problems)"
else
	pass "redocly lint uses the repository's redocly.yaml"
fi

# ---------------------------------------------------------------- 2. served by nginx

req GET /api/v1/openapi.json
expect_json 200 "GET /api/v1/openapi.json -> 200 with a JSON content type"
if cmp -s -- "$T_BODY" "$SPEC"; then
	pass "GET /api/v1/openapi.json is byte-identical to web/openapi.json"
else
	fail "GET /api/v1/openapi.json is byte-identical to web/openapi.json" \
	    "$(printf 'served %s bytes, file %s bytes (nginx serves the copy of web/ that ./dev up made: run it again)' \
	    "$(wc -c <"$T_BODY")" "$(wc -c <"$SPEC")")"
fi
header_like X-Request-Id "$RE_REQID" "GET /api/v1/openapi.json carries X-Request-Id"

# ---------------------------------------------------------------- 3. real responses

# validate.mjs numbers its lines from T_N + 1 and prints no plan; its lines
# are renumbered here anyway, so the stream stays one sequence whatever it
# prints, and anything that is not TAP becomes a comment.
v_count=0
while IFS= read -r line; do
	if [[ $line =~ ^(not\ ok|ok)\ [0-9]+(\ (.*))?$ ]]; then
		T_N=$((T_N + 1))
		v_count=$((v_count + 1))
		[[ ${BASH_REMATCH[1]} == ok ]] || T_FAILED=$((T_FAILED + 1))
		printf '%s %d%s\n' "${BASH_REMATCH[1]}" "$T_N" "${BASH_REMATCH[2]}"
	elif [[ $line == '#'* ]]; then
		printf '%s\n' "$line"
	elif [[ -n $line ]]; then
		printf '# %s\n' "$line"
	fi
done < <(cd -- "$SRCDIR" && TASKAPI_BASE_URL=$BASE TASKAPI_SRCDIR=$SRCDIR \
    node tests/openapi/validate.mjs --spec "$SPEC" --offset "$T_N" --no-plan 2>&1 </dev/null)
wait $!
v_rc=$?
is "$v_rc" 0 "validate.mjs exits 0"
num_cmp "$v_count" -gt 0 "validate.mjs ran its assertions"

done_testing
