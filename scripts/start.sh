#!/usr/bin/env bash
# One command: set up, then start the app on http://127.0.0.1:8501 (demo data on an empty store).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate
exec streamlit run app.py "$@"
