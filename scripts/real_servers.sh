#!/usr/bin/env bash
# Runs corio's HTTP client examples (`fetch`, `crawler --url`) against real
# web servers that nobody here wrote, on loopback:
#
#   (a) Python's `python3 -m http.server` (HTTP/1.0, closes after each reply);
#   (b) nginx (HTTP/1.1 keep-alive, sendfile + tcp_nopush), as a non-daemon
#       with its own config, pid file and logs in a temp dir.
#
# Both serve the same generated site: index.html linking to 20 pages that
# link to each other (21 pages in all), plus a 5 MB binary file. For each
# server it checks: `fetch URL` (status + headers), `fetch -I` (HEAD),
# `fetch -o FILE` of the 5 MB file (compared with `cmp`), a 404 (fetch
# still exits 0 and prints it), and `crawler --url` (all 21 pages ok, 0 failed).
#
# Not part of `cargo test` or CI: it needs nginx and Python on the machine
# (nginx is installed with apt-get if missing). Every step is bounded by
# `timeout`; a trap stops the servers and removes the temp dir on exit.
# Prints PASS/FAIL per check; exits non-zero if any check failed.
#
# Usage: scripts/real_servers.sh

set -euo pipefail

case "${1:-}" in
    "") ;;
    -h | --help) echo "usage: scripts/real_servers.sh   (no arguments)"; exit 0 ;;
    *) echo "usage: scripts/real_servers.sh   (no arguments; got '$1')" >&2; exit 2 ;;
esac

cd "$(dirname "$0")/.."
BIN=${CARGO_TARGET_DIR:-target}/release/examples # where cargo builds them
PAGES=20
BIG_SIZE=$((5 * 1024 * 1024))

TMP=$(mktemp -d /tmp/corio-real-servers.XXXXXX)
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

FAILED=0
pass() { echo "PASS  $1"; }
fail() {
    echo "FAIL  $1"
    sed 's/^/      | /' "$TMP/out" | tail -n 15
    FAILED=$((FAILED + 1))
}

# ----- tools ----------------------------------------------------------------------

echo "== building the examples"
timeout --foreground 900 cargo build --release --examples --quiet

NGINX=$(command -v nginx || true)
[[ -z $NGINX && -x /usr/sbin/nginx ]] && NGINX=/usr/sbin/nginx
if [[ -z $NGINX ]]; then
    echo "== installing nginx"
    timeout --foreground 300 apt-get update -qq
    timeout --foreground 300 apt-get install -y -qq nginx-light || timeout --foreground 300 apt-get install -y -qq nginx
    NGINX=$(command -v nginx || echo /usr/sbin/nginx)
fi

# ----- the site -------------------------------------------------------------------

SITE=$TMP/site
mkdir -p "$SITE"
chmod 755 "$TMP" "$SITE" # nginx's workers may run as another user
page_link() { printf '<li><a href="/page%02d.html">page %d</a></li>\n' "$1" "$1"; }
{
    echo '<!doctype html><html><head><title>index</title></head><body><h1>index</h1><ul>'
    for i in $(seq 1 $PAGES); do page_link "$i"; done
    echo '</ul></body></html>'
} >"$SITE/index.html"
for i in $(seq 1 $PAGES); do
    {
        printf '<!doctype html><html><head><title>page %d</title></head><body><h1>page %d</h1>\n' "$i" "$i"
        printf '<p>%s</p>\n<ul>\n' "$(printf 'lorem ipsum %.0s' $(seq 1 $((20 * i))))"
        page_link $((i % PAGES + 1))
        page_link $(((i + 6) % PAGES + 1))
        page_link $(((i * 7) % PAGES + 1))
        echo '<li><a href="/">back to the index</a></li></ul></body></html>'
    } >"$SITE/$(printf 'page%02d.html' "$i")"
done
head -c $BIG_SIZE /dev/urandom >"$SITE/big.bin"
chmod -R a+rX "$SITE"

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_for_port() {
    timeout --foreground 10 bash -c "until (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null; do sleep 0.1; done"
}

# ----- the checks -----------------------------------------------------------------

# check NAME COMMAND...: runs COMMAND (bounded) into $TMP/out.
run() { timeout --foreground 60 "$@" >"$TMP/out" 2>&1; }

check_server() {
    local name=$1 base=$2
    echo "== $name on $base"

    if run "$BIN/fetch" "$base/" && grep -qE '^HTTP/1\.[01] 200 ' "$TMP/out" &&
        grep -qi '^content-type: text/html' "$TMP/out"; then
        pass "$name: fetch / (200, text/html)"
    else fail "$name: fetch /"; fi

    if run "$BIN/fetch" -I "$base/big.bin" && grep -qE '^HTTP/1\.[01] 200 ' "$TMP/out" &&
        grep -qi "^content-length: $BIG_SIZE\b" "$TMP/out" && grep -q '^-- 0 body bytes' "$TMP/out"; then
        pass "$name: fetch -I /big.bin (200, Content-Length $BIG_SIZE, no body)"
    else fail "$name: fetch -I /big.bin"; fi

    rm -f "$TMP/big.out"
    if run "$BIN/fetch" -o "$TMP/big.out" "$base/big.bin" && cmp -s "$SITE/big.bin" "$TMP/big.out"; then
        pass "$name: fetch -o big.bin (5 MB, identical) $(grep -oE '[0-9.]+ [kM]?B/s' "$TMP/out")"
    else fail "$name: fetch -o big.bin + cmp"; fi

    if run "$BIN/fetch" "$base/no-such-page.html" && grep -qE '^HTTP/1\.[01] 404( |$)' "$TMP/out"; then
        pass "$name: fetch 404 (exit 0, prints 404)"
    else fail "$name: fetch 404"; fi

    if run "$BIN/crawler" --url "$base/" --max-pages 50 --concurrency 4 --quiet &&
        grep -qE "pages +$((PAGES + 1)): $((PAGES + 1)) ok, 0 failed" "$TMP/out"; then
        pass "$name: crawler ($(grep -oE '[0-9]+: [0-9]+ ok, [0-9]+ failed' "$TMP/out"))"
    else fail "$name: crawler --url $base/"; fi
}

# (a) Python's http.server
PY_PORT=$(free_port)
python3 -m http.server "$PY_PORT" --bind 127.0.0.1 --directory "$SITE" >"$TMP/python.log" 2>&1 &
PIDS+=($!)
if wait_for_port "$PY_PORT"; then
    check_server "python http.server" "http://127.0.0.1:$PY_PORT"
else
    cp "$TMP/python.log" "$TMP/out"
    fail "python http.server did not start"
fi

# (b) nginx
NGINX_PORT=$(free_port)
mkdir -p "$TMP/nginx"
cat >"$TMP/nginx/nginx.conf" <<EOF
daemon off;
worker_processes 1;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/error.log;
events { worker_connections 256; }
http {
    access_log $TMP/nginx/access.log;
    client_body_temp_path $TMP/nginx/body;
    proxy_temp_path $TMP/nginx/proxy;
    fastcgi_temp_path $TMP/nginx/fastcgi;
    uwsgi_temp_path $TMP/nginx/uwsgi;
    scgi_temp_path $TMP/nginx/scgi;
    types { text/html html; application/octet-stream bin; }
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000;
    server {
        listen 127.0.0.1:$NGINX_PORT;
        root $SITE;
    }
}
EOF
"$NGINX" -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" -e "$TMP/nginx/error.log" >"$TMP/nginx/stdout.log" 2>&1 &
PIDS+=($!)
if wait_for_port "$NGINX_PORT"; then
    check_server "nginx $("$NGINX" -v 2>&1 | sed 's/.*nginx\///')" "http://127.0.0.1:$NGINX_PORT"
else
    cat "$TMP/nginx/stdout.log" "$TMP/nginx/error.log" >"$TMP/out" 2>/dev/null || true
    fail "nginx did not start"
fi

echo
if ((FAILED > 0)); then
    echo "$FAILED check(s) failed"
    exit 1
fi
echo "all checks passed"
