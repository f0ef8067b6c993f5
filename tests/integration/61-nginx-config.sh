#!/usr/bin/env bash
# 61-nginx-config.sh: the nginx configuration alone, end to end
# (nginx/selftest.sh): rendered into a fresh directory and run by a
# private nginx in front of nginx/selftest-fcgi.py, a FastCGI stand-in
# that echoes what it was passed and plays the app's slow, streaming and
# failing answers.  So what nginx itself must do (JSON error pages,
# headers, CORS, the parameters it passes and hides, limits, TLS,
# timeouts) is checked apart from taskapi.  Its own ports, free ones.
here=$(cd "$(dirname "$0")" && pwd)
free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
TASKAPI_NGINX_TEST_HTTP=$(free_port) TASKAPI_NGINX_TEST_HTTPS=$(free_port) \
	exec sh "$here/../../nginx/selftest.sh"
