#!/usr/bin/env bash
# Installs what bench/run.py needs beyond the project's virtualenv: the wrk load generator
# (Debian package). run.py calls the same apt-get itself when wrk is missing.
set -euo pipefail
if command -v wrk >/dev/null 2>&1; then
  echo "wrk is installed: $(command -v wrk)"
  exit 0
fi
if ! apt-get install -y -q wrk; then
  apt-get update -q
  apt-get install -y -q wrk
fi
