#!/usr/bin/env bash
# The kharness test suite: set-up, then unit tests, then real kernels in QEMU.
# Usage: bash scripts/test.sh [extra pytest args]
#
# The integration tests need the quickstart kernels (x86_64 and arm64, baseline and
# patched). From an empty cache those are ~20 minutes of compiling, so they are built in
# the background, niced, while the tests that do not need them run: the unit tests, then
# everything x86_64 (conftest.py runs arm64 items last), while arm64 compiles in the idle
# time that TCG guests leave. A test that needs a kernel still being built waits for it
# (the build slot's lock) and then finds it in the cache; if the background build fails,
# the test builds it itself and reports the error. Only for the whole suite (no extra
# arguments); KHARNESS_PREBUILD=0 turns it off.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
prebuild_pid=
if [ "${KHARNESS_PREBUILD:-1}" != 0 ] && [ $# -eq 0 ]; then
	mkdir -p .kharness
	log=.kharness/prebuild.log
	echo "test.sh: building the quickstart kernels in the background (log: $log)"
	setsid nice -n 10 bash -c '.venv/bin/kharness build examples/quickstart.yaml --arch x86_64 &&
		.venv/bin/kharness build examples/quickstart.yaml --arch arm64' >"$log" 2>&1 &
	prebuild_pid=$!
	stop_prebuild() { kill -- -"$prebuild_pid" 2>/dev/null || true; }
	trap stop_prebuild EXIT
	trap 'stop_prebuild; exit 130' INT TERM
fi
# slow tests (the real-kernel bisect demonstration): bash scripts/test.sh -m slow
rc=0
.venv/bin/python -m pytest tests guest_tests -ra --durations=40 -m "not slow" "$@" || rc=$?
if [ -n "$prebuild_pid" ]; then
	if kill -0 "$prebuild_pid" 2>/dev/null; then
		echo "test.sh: tests finished first; stopping the background kernel builds"
		kill -- -"$prebuild_pid" 2>/dev/null || true
	elif wait "$prebuild_pid"; then echo "test.sh: background kernel builds: ok"
	else echo "test.sh: background kernel builds failed; last lines of .kharness/prebuild.log:"
		tail -n 15 .kharness/prebuild.log
	fi
fi
exit "$rc"
