#!/usr/bin/env bash
# The page weight of the web UI's secret list with 50 secrets (§13.2; issue "web UI"): the
# list page's HTML (its first page of 20 cards, filters and pager) plus the one stylesheet
# and the one script it loads, as sent and gzipped, against the real server in --dev on
# SQLite. Run on demand, not in CI:
#
#   scripts/ui-page-weight.sh
#
# SKIP_BUILD=1 reuses target/debug/secret-server (a debug build sends the same bytes).
set -euo pipefail
cd "$(dirname "$0")/.."

PORT="${PORT:-18090}"
[ -n "${SKIP_BUILD:-}" ] || cargo build -p secret-server -q
BIN=target/debug/secret-server
WORK="$(mktemp -d)"
cleanup() {
  [ -n "${SERVER_PID:-}" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

"$BIN" --dev --data-dir "$WORK/data" --bind "127.0.0.1:$PORT" \
  --rate-limit-per-minute 100000000 2>"$WORK/server.log" &
SERVER_PID=$!
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break; sleep 0.1; done

BASE="http://127.0.0.1:$PORT"
TOKEN=$("$BIN" --dev --data-dir "$WORK/data" token issue --sub alice --org org-1=ADMIN --ttl-seconds 3600)
for i in $(seq -w 1 50); do
  curl -fs -o /dev/null -X POST "$BASE/api/secrets" \
    -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
    -d "{\"name\":\"SERVICE_${i}_API_KEY\",\"type\":\"API_KEY\",\"value\":{\"type\":\"API_KEY\",\"key\":\"sk-weight-$i-0123456789abcdef\"},\"scope\":\"ORGANIZATION\",\"organizationId\":\"org-1\",\"description\":\"Key $i of the weight test\",\"tags\":[\"llm\",\"prod\"],\"expiresAt\":\"2027-0$(( 10#$i % 9 + 1 ))-01T00:00:00Z\"}"
done

JAR="$WORK/cookies"
NONCE=$(curl -fs -c "$JAR" "$BASE/ui/sign-in" | sed -nE 's/.*name="csrf" value="([^"]+)".*/\1/p' | head -1)
curl -fs -o /dev/null -b "$JAR" -c "$JAR" --data-urlencode "token=$TOKEN" --data-urlencode "csrf=$NONCE" "$BASE/ui/sign-in"

weigh() { # name url
  local raw gz
  curl -fs -b "$JAR" "$2" -o "$WORK/body"
  raw=$(wc -c <"$WORK/body")
  gz=$(gzip -9c "$WORK/body" | wc -c)
  printf '%-28s %8s %8s\n' "$1" "$raw" "$gz"
  echo "$raw $gz" >>"$WORK/sums"
}
echo "the secret list with 50 secrets (first page: 20 cards), bytes"
printf '%-28s %8s %8s\n' part sent gzip-9
weigh "/ui/secrets (HTML)" "$BASE/ui/secrets"
cp "$WORK/body" "$WORK/list.html"
grep -q 'SERVICE_01_API_KEY' "$WORK/list.html" || { echo "the list does not show the secrets" >&2; exit 1; }
weigh "/ui/static/ui.css" "$BASE/ui/static/ui.css"
if grep -q '/ui/static/ui.js' "$WORK/list.html"; then
  weigh "/ui/static/ui.js" "$BASE/ui/static/ui.js"
else
  echo "(the list loads no script; ui.js is $(curl -fs -b "$JAR" "$BASE/ui/static/ui.js" | wc -c) bytes on the pages that do)"
fi
awk '{s+=$1; g+=$2} END {printf "%-28s %8d %8d\n", "total", s, g}' "$WORK/sums"
