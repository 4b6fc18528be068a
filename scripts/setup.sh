#!/usr/bin/env bash
# Create .venv and install the app's requirements (torch first, pinned). Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
. .venv/bin/activate
stamp=.venv/.installed-$(cat requirements.txt ${EXTRA_REQUIREMENTS:-} | sha256sum | cut -c1-12)
if [ ! -f "$stamp" ]; then
  python -m pip install -q --upgrade pip
  python -m pip install -q torch==2.13.0
  python -m pip install -q -r requirements.txt ${EXTRA_REQUIREMENTS:+$(for f in $EXTRA_REQUIREMENTS; do printf -- '-r %s ' "$f"; done)}
  touch "$stamp"
fi
