#!/usr/bin/env bash
# python-dotenv, the reference reader of the .env round-trip tests (import, export, read
# back with dotenv_values(stream, interpolate=False)).
#
#   scripts/python-dotenv.sh install   installs python-dotenv 1.2.4 from PyPI into ~/.local
#                                      unless python3 already imports that version or later
#
# Without it those tests report themselves skipped, or fail under SECRETS_TEST_STRICT=1.
# The tests use `python3`, or the interpreter named by SECRETS_TEST_PYTHON.
set -euo pipefail
VERSION=1.2.4
PYTHON="${SECRETS_TEST_PYTHON:-python3}"

installed_version() {
  "$PYTHON" -c 'import importlib.metadata as m; print(m.version("python-dotenv"))' 2>/dev/null || true
}

recent_enough() {
  "$PYTHON" -c 'import importlib.metadata as m, sys
v = tuple(int(p) for p in m.version("python-dotenv").split(".")[:3])
sys.exit(0 if v >= (1, 2, 4) else 1)' 2>/dev/null
}

case "${1:-}" in
  install)
    if recent_enough; then
      echo "python-dotenv $(installed_version)"
      exit 0
    fi
    command -v "$PYTHON" >/dev/null 2>&1 || { echo "$PYTHON is missing" >&2; exit 1; }
    pip=("$PYTHON" -m pip)
    "${pip[@]}" --version >/dev/null 2>&1 || { echo "pip is missing: install python3-pip first" >&2; exit 1; }
    "${pip[@]}" install --user --quiet --no-warn-script-location "python-dotenv==$VERSION" 2>/dev/null \
      || "${pip[@]}" install --user --quiet --no-warn-script-location --break-system-packages "python-dotenv==$VERSION"
    recent_enough || { echo "python-dotenv $VERSION did not install ($(installed_version) is what python3 imports)" >&2; exit 1; }
    echo "python-dotenv $(installed_version)"
    ;;
  *)
    echo "usage: $0 install" >&2
    exit 2
    ;;
esac
