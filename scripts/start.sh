#!/usr/bin/env bash
# One command: set up, then start the app on http://127.0.0.1:8501.
# An empty store opens on the demo: the real with-vs-without experiment's results when
# data/experiment/ holds them (prm_viewer.experiment.load_default_demo), else the synthetic demo.
# Building the experiment takes 15-25 minutes of CPU, too long for a quickstart, so it is not
# built here; rebuild it with: nice -n 10 python -m prm_viewer experiment run
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate
if [ ! -f data/experiment/scores.parquet ]; then
  echo "note: no experiment results in data/experiment/; an empty store opens on the synthetic demo." >&2
  echo "      build the real one (15-25 min on 2 CPU cores): nice -n 10 python -m prm_viewer experiment run" >&2
fi
exec streamlit run app.py "$@"
