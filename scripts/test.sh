#!/usr/bin/env bash
# One command: set up everything the tests need (Chromium, vLLM CPU build), then run all tests.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v chromium >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q chromium
fi
EXTRA_REQUIREMENTS="requirements-dev.txt" bash scripts/setup.sh
. .venv/bin/activate
# vLLM (CPU build) is optional for users; the tests exercise it. Its CUDA torchvision/torchaudio/
# torchcodec dependencies break imports on CPU and are removed (see PRM_RECIPES.md).
if [ "${PRM_VIEWER_SKIP_VLLM:-0}" != 1 ] && ! python -c "import vllm" >/dev/null 2>&1; then
  python -m pip install -q -r requirements-vllm.txt -c requirements.txt
  python -m pip uninstall -y -q torchvision torchaudio torchcodec || true
fi
exec python -m pytest "$@"
