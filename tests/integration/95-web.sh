#!/usr/bin/env bash
# 95-web.sh: the web page at / in headless Chromium (tests/e2e/board.mjs,
# Playwright driving Debian's chromium).  That program prints the TAP; this
# file only decides whether it can run.
set -u

if [[ -z ${TASKAPI_BASE_URL:-} ]]; then
	echo '1..0 # SKIP stack not running'
	exit 0
fi
t_health=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "${TASKAPI_BASE_URL%/}/health" 2>/dev/null)
if [[ $t_health == 000 || -z $t_health ]]; then
	echo "1..0 # SKIP stack not running (no answer from ${TASKAPI_BASE_URL%/}/health)"
	exit 0
fi

SRCDIR=${TASKAPI_SRCDIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}

# A missing tool is a visible skip, never a silent pass; ./dev test
# installs all three.
command -v node >/dev/null 2>&1 || { echo '1..0 # SKIP node is not installed'; exit 0; }
[[ -d $SRCDIR/node_modules/playwright-core ]] ||
	{ echo "1..0 # SKIP playwright-core is missing (npm ci in $SRCDIR)"; exit 0; }
[[ -x ${CHROMIUM:-/usr/bin/chromium} ]] ||
	{ echo "1..0 # SKIP ${CHROMIUM:-/usr/bin/chromium} is not installed (Debian package chromium)"; exit 0; }

exec node "$SRCDIR/tests/e2e/board.mjs"
