#!/usr/bin/env bash
# Installs what the benchmarks need beyond the project's virtualenv (Debian packages): the
# wrk load generator (bench/run.py; it calls the same apt-get itself when wrk is missing)
# and valgrind (bench/instructions.py counts instructions per request with it).
set -euo pipefail
missing=()
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
command -v valgrind >/dev/null 2>&1 || missing+=(valgrind)
if [ ${#missing[@]} -eq 0 ]; then
  echo "wrk and valgrind are installed"
  exit 0
fi
if ! apt-get install -y -q "${missing[@]}"; then
  apt-get update -q
  apt-get install -y -q "${missing[@]}"
fi
