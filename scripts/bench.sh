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
    py38=""
    # The first candidate that really is a 3.8 (a pyenv shim may exist and refuse to run).
    for c in "${PYTHON38:-}" python3.8 \
      "$(pyenv root 2>/dev/null)"/versions/3.8*/bin/python /root/.pyenv/versions/3.8*/bin/python; do
      [ -n "$c" ] || continue
      if "$c" -c 'import sys; assert sys.version_info[:2] == (3, 8)' 2>/dev/null; then
        py38="$(command -v "$c")"
        break
      fi
    done
    if [ -z "$py38" ]; then
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
