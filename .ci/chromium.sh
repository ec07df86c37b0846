#!/bin/sh
# Headless Chromium for tests/leaderboard/test_report.py (the HTML report must open in a browser).
# Idempotent; run as root on Debian.
set -eu
if command -v chromium >/dev/null 2>&1; then
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium
