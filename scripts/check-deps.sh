#!/usr/bin/env bash
# The dependency direction of ARCHITECTURE §1 (core <- crypto, access <- store <- audit <-
# api <- lifecycle <- bins), checked with `cargo tree` (normal and build dependencies,
# default features unless the line says otherwise). Each line: a crate, the
# cargo flags it is checked with, and the crates its tree must not contain. Exits 1 naming
# every crate that pulls in one it must not.
set -euo pipefail
cd "$(dirname "$0")/.."

io='sea-orm|sea-query|sqlx|sqlx-core|tokio|actix-web|actix-http|actix-server|hyper|reqwest|mio'
http='actix-web|actix-http|actix-server|actix-rt'

checks=(
  # crate              | flags                    | forbidden
  "secret-core         |                          | $io"
  # The wire types with their OpenAPI schemas, as a client may build them.
  "secret-core         | --features openapi       | $io"
  "secret-crypto       |                          | $io"
  "secret-access       |                          | $io"
  "secret-store        |                          | secret-audit|secret-api|secret-lifecycle|$http"
  "secret-lifecycle    |                          | $http"
  "secret-startup      |                          | secret-lifecycle|$http"
  "secret-scheduler    |                          | secret-server|$http"
  # A module embedding SecretService gets no HTTP framework; the jobs sit on top of it.
  "secret-api          | --no-default-features    | secret-lifecycle|secret-startup|$http"
  "secret-api          |                          | secret-lifecycle|secret-startup"
  # The remote client: secret-core and an HTTP client, no database, no server framework.
  "secret-client       |                          | sea-orm|sea-query|sqlx|sqlx-core|secret-store|secret-api|secret-crypto|$http"
  "secret-cli          |                          | sea-orm|sea-query|sqlx|sqlx-core|secret-store|secret-api|secret-crypto|$http"
)

failed=0
for line in "${checks[@]}"; do
  IFS='|' read -r crate flags forbidden <<<"$line"
  crate="$(echo "$crate" | xargs)"
  flags="$(echo "$flags" | xargs)"
  forbidden="$(echo "$forbidden" | xargs)"
  # shellcheck disable=SC2086
  found="$(cargo tree -p "$crate" $flags -e normal,build --prefix none --format '{p}' \
    | awk '{print $1}' | sort -u | grep -xE "$forbidden" || true)"
  if [ -n "$found" ]; then
    echo "$crate ${flags:+($flags) }depends on: $(echo "$found" | tr '\n' ' ')" >&2
    cargo tree -p "$crate" $flags -e normal,build -i "$(echo "$found" | head -n1)" 2>/dev/null | head -n 20 >&2 || true
    failed=1
  else
    echo "$crate ${flags:+($flags) }: free of ${forbidden//|/, }"
  fi
done
exit "$failed"
