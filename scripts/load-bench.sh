#!/usr/bin/env bash
# Load benchmark of an authorized, audited value read, GET /api/secrets/{id}/value, beside the
# metadata read GET /api/secrets/{id} (no audit record), against the real
# release server: requests per second and p50/p99 latency at 1, 16 and 64 connections, on
# SQLite (default) or PostgreSQL (DATABASE_URL=postgres://...; a database with a random name
# is created and dropped). Run on demand, not in CI:
#
#   scripts/load-bench.sh                      # SQLite
#   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres scripts/load-bench.sh
#
# Needs wrk (installed from Debian's packages when missing). DURATION (default 10s) sets the
# length of each run. The rate limit is raised so it measures the server, not the limiter.
#
# PROFILE=16 (a connection count) instead samples the whole machine with perf (Debian's
# linux-perf) for 10 s during a value-read run at that many connections and prints where
# the CPU went: by thread, user space against the kernel, and the hottest symbols.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION="${DURATION:-10s}"
PORT="${PORT:-18080}"
command -v wrk >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }

[ -n "${SKIP_BUILD:-}" ] || cargo build --release -p secret-server -q
BIN=target/release/secret-server
WORK="$(mktemp -d)"
PG_DB=""
cleanup() {
  [ -n "${SERVER_PID:-}" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null || true
  if [ -n "$PG_DB" ]; then psql "$DATABASE_URL" -qc "DROP DATABASE IF EXISTS \"$PG_DB\" WITH (FORCE)" >/dev/null; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

ENGINE=SQLite
export SECRETS_DATABASE_URL=""
unset SECRETS_DATABASE_URL
if [[ "${DATABASE_URL:-}" == postgres* ]]; then
  ENGINE=PostgreSQL
  PG_DB="sm_load_$(date +%s)_$$"
  psql "$DATABASE_URL" -qc "CREATE DATABASE \"$PG_DB\"" >/dev/null
  export SECRETS_DATABASE_URL="${DATABASE_URL%/*}/$PG_DB"
fi

"$BIN" --dev --data-dir "$WORK/data" --bind "127.0.0.1:$PORT" \
  --rate-limit-per-minute 100000000 2>"$WORK/server.log" &
SERVER_PID=$!
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break; sleep 0.1; done

TOKEN=$("$BIN" --dev --data-dir "$WORK/data" token issue --sub bench --org org-1=ADMIN --ttl-seconds 3600)
ID=$(curl -fs -X POST "http://127.0.0.1:$PORT/api/secrets" \
  -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
  -d '{"name":"BENCH_KEY","type":"API_KEY","value":{"type":"API_KEY","key":"sk-bench-0123456789abcdef"},"scope":"ORGANIZATION","organizationId":"org-1"}' \
  | sed -E 's/.*"id":"([^"]+)".*/\1/')

if [ -n "${PROFILE:-}" ]; then
  command -v perf >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq linux-perf >/dev/null; }
  wrk -t2 -c"$PROFILE" -d14s -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/api/secrets/$ID/value" >"$WORK/wrk.txt" &
  WRK_PID=$!
  sleep 2
  perf record -F 499 -a -g -o "$WORK/perf.data" -- sleep 10 2>/dev/null
  wait "$WRK_PID"
  echo "engine: $ENGINE, value reads at $PROFILE connections: $(awk '/Requests\/sec/ {print $2}' "$WORK/wrk.txt") req/s while sampled"
  echo "--- CPU by thread (comm) ---"
  perf report -i "$WORK/perf.data" --no-children --sort comm --stdio 2>/dev/null | grep -E '^ +[0-9]' | head -12
  echo "--- user space against the kernel ---"
  perf report -i "$WORK/perf.data" --no-children --sort dso --stdio 2>/dev/null | grep -E '^ +[0-9]' | head -8
  echo "--- hottest symbols ---"
  perf report -i "$WORK/perf.data" --no-children --sort sym --stdio -g none 2>/dev/null | grep -E '^ +[0-9]' | head -30
  exit 0
fi

echo "engine: $ENGINE, duration per run: $DURATION, $(nproc) cores, load generator on the same machine"
printf '%-34s %6s %12s %10s %10s\n' endpoint conns req/s p50 p99
for path in "/api/secrets/$ID/value" "/api/secrets/$ID"; do
  for c in 1 16 64; do
    threads=$(( c < 2 ? 1 : 2 ))
    out=$(wrk -t"$threads" -c"$c" -d"$DURATION" --latency -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT$path")
    rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
    p50=$(echo "$out" | awk '$1=="50%" {print $2}')
    p99=$(echo "$out" | awk '$1=="99%" {print $2}')
    non2xx=$(echo "$out" | awk '/Non-2xx/ {print $NF}')
    name="GET ${path/$ID/{id\}}"
    printf '%-34s %6s %12s %10s %10s %s\n' "$name" "$c" "$rps" "$p50" "$p99" "${non2xx:+(non-2xx: $non2xx)}"
  done
done

# Every value read above left a durable SECRET_READ record; the chain must still verify.
DB_ARGS=()
[ -n "${SECRETS_DATABASE_URL:-}" ] && DB_ARGS=(--database-url "$SECRETS_DATABASE_URL")
echo "audit: $("$BIN" --dev --data-dir "$WORK/data" "${DB_ARGS[@]}" audit verify)"
