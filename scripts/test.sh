#!/usr/bin/env bash
# The kharness test suite: set-up, then unit tests, then real kernels in QEMU.
# Usage: bash scripts/test.sh [extra pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# slow tests (the real-kernel bisect demonstration): bash scripts/test.sh -m slow
exec .venv/bin/python -m pytest tests guest_tests -ra --durations=40 -m "not slow" "$@"
