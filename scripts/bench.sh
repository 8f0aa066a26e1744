#!/usr/bin/env bash
# Runs the bench with HrFlow's own connector beside the relay, on a fresh clone:
#   bash scripts/bench.sh                      # every scenario, 3 runs each
#   bash scripts/bench.sh reference --runs 5   # arguments go to the bench
# The reference's Python 3.8 environment (hrflow-connectors==0.2.0 from PyPI) is made once, in
# target/ref38; REFERENCE_PYTHON=/path/to/python skips that and uses the one given.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${REFERENCE_PYTHON:-}" ]; then
  venv=target/ref38
  if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import hrflow_connectors' 2>/dev/null; then
    py38="${PYTHON38:-}"
    if [ -z "$py38" ]; then
      py38="$(command -v python3.8 || true)"
    fi
    if [ -z "$py38" ] && command -v pyenv >/dev/null 2>&1; then
      py38="$(pyenv root)/versions/$(pyenv versions --bare | grep -E '^3\.8' | tail -1)/bin/python"
    fi
    if [ -z "$py38" ]; then
      py38="$(ls -d /root/.pyenv/versions/3.8*/bin/python 2>/dev/null | tail -1 || true)"
    fi
    if [ -z "$py38" ] || [ ! -x "$py38" ]; then
      echo "no Python 3.8 found: set PYTHON38=/path/to/python3.8 or REFERENCE_PYTHON" >&2
      exit 2
    fi
    echo "making $venv with $py38 and hrflow-connectors==0.2.0" >&2
    rm -rf "$venv"
    "$py38" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --upgrade pip
    "$venv/bin/python" -m pip install --quiet "hrflow-connectors==0.2.0"
  fi
  REFERENCE_PYTHON="$PWD/$venv/bin/python"
fi
export REFERENCE_PYTHON

cargo build --release --bin hrflow-relay
exec cargo run --release --example bench -- "$@"
