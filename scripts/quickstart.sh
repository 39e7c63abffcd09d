#!/usr/bin/env bash
# The kharness quickstart: set-up, then the main job on the embedded default
# (Debian linux-source-7.2, baseline vs the demo series, x86_64 + arm64).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/kharness run examples/quickstart.yaml "$@"
