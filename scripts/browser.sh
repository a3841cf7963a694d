#!/usr/bin/env bash
# Install Debian's Chromium (and a CJK font so Chinese screenshots render) for the Playwright
# browser tests in tests/console. Idempotent: does nothing when chromium is already on PATH.
# We never run `playwright install`: Playwright drives the distribution's chromium binary.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  echo "chromium already installed: $(command -v chromium)"
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends chromium fonts-wqy-zenhei
echo "installed: $(command -v chromium)"
