#!/usr/bin/env bash
# Debian's chromium and chromium-driver, for the web UI's browser tests (WebDriver, headless).
#
#   scripts/chromium.sh install   installs both with apt-get unless /usr/bin/chromium and
#                                 /usr/bin/chromedriver are there already (needs root or sudo)
#
# Without them the browser tests report themselves skipped, or fail under
# SECRETS_TEST_STRICT=1. The tests use `chromedriver` on the PATH (or SECRETS_TEST_CHROMEDRIVER)
# and `/usr/bin/chromium` (or SECRETS_TEST_CHROMIUM).
set -euo pipefail

have() { command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; }

case "${1:-}" in
  install)
    if ! have; then
      sudo=()
      [ "$(id -u)" -eq 0 ] || sudo=(sudo)
      export DEBIAN_FRONTEND=noninteractive
      "${sudo[@]}" apt-get update -qq
      "${sudo[@]}" apt-get install -y -qq --no-install-recommends chromium chromium-driver fonts-dejavu-core >/dev/null
    fi
    have || { echo "chromium and chromium-driver did not install" >&2; exit 1; }
    chromium --version
    chromedriver --version
    ;;
  *)
    echo "usage: $0 install" >&2
    exit 2
    ;;
esac
