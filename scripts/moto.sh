#!/usr/bin/env bash
# moto (AWS service mocks) for the tests of the AWS Secrets Manager backend.
#
#   scripts/moto.sh install   installs moto 5.2.5 with its server's dependencies (flask,
#                             flask-cors) from PyPI into ~/.local unless moto_server is there
#
# The tests start their own server from that binary on a free port (and stop it when they
# end); without it they report themselves skipped, or fail under SECRETS_TEST_STRICT=1.
set -euo pipefail
VERSION=5.2.5

find_moto() {
  command -v moto_server 2>/dev/null || { [ -x "$HOME/.local/bin/moto_server" ] && echo "$HOME/.local/bin/moto_server"; } || true
}

installed_version() {
  python3 -c 'import importlib.metadata as m; print(m.version("moto"))' 2>/dev/null || true
}

case "${1:-}" in
  install)
    bin="$(find_moto)"
    if [ -n "$bin" ] && [ "$(installed_version)" = "$VERSION" ]; then
      echo "moto $VERSION: $bin"
      exit 0
    fi
    command -v pip3 >/dev/null 2>&1 || command -v pip >/dev/null 2>&1 || {
      echo "pip is missing: install python3-pip first" >&2; exit 1; }
    pip=$(command -v pip3 || command -v pip)
    pkgs=("moto==$VERSION" flask flask-cors)
    "$pip" install --user --quiet --no-warn-script-location "${pkgs[@]}" 2>/dev/null \
      || "$pip" install --user --quiet --no-warn-script-location --break-system-packages "${pkgs[@]}"
    bin="$(find_moto)"
    [ -n "$bin" ] || { echo "moto installed no moto_server script" >&2; exit 1; }
    echo "moto $(installed_version): $bin"
    ;;
  *)
    echo "usage: $0 install" >&2
    exit 2
    ;;
esac
