#!/usr/bin/env bash
# The kharness test suite: set-up, then unit tests, then real kernels in QEMU.
# Usage: bash scripts/test.sh [extra pytest args]
#
# The integration tests need the quickstart kernels (x86_64 and arm64, baseline and
# patched, and a baseline with the disk fragment for the root-disk and cloud-image tests)
# and the guest images. From an empty cache those are ~15-25 minutes of compiling
# and ~10 of downloading and unpacking Debian packages, so both are made in the
# background, niced, while the tests that do not need them run: the unit tests, then
# everything x86_64 (conftest.py runs arm64 items last), while arm64 compiles in the idle
# time that TCG guests leave. Kernels and images are two separate background jobs: image
# building is mostly waiting for the network and the disk. A test that needs a kernel or
# image still being made waits for it (its lock) and then finds it in the cache; if a
# background job failed, the test makes it itself and reports the error. Only for the
# whole suite (no extra arguments); KHARNESS_PREBUILD=0 turns it off. Logs: .kharness/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bg_pids=() bg_names=()
background() {  # NAME NICE COMMAND: run COMMAND (a bash string) niced, in its own process
	# group, output in .kharness/NAME.log
	setsid nice -n "$2" bash -c "$3" >".kharness/$1.log" 2>&1 &
	bg_pids+=("$!") bg_names+=("$1")
}
stop_background() {
	local pid
	for pid in "${bg_pids[@]}"; do kill -- -"$pid" 2>/dev/null || true; done
}
if [ "${KHARNESS_PREBUILD:-1}" != 0 ] && [ $# -eq 0 ]; then
	mkdir -p .kharness
	echo "test.sh: building kernels and guest images in the background (logs: .kharness/)"
	k=.venv/bin/kharness
	# in the order the tests need them (x86_64 first); the x86_64 disk kernel (+ ext4,
	# systemd) is for the root-disk and cloud-image tests only (arm64's root disk: slow target)
	q=examples/quickstart.yaml
	background kernels 10 "$k build $q --arch x86_64 &&
		$k build $q --arch x86_64 --variant baseline --fragment disk &&
		$k build $q --arch arm64"
	# images yield to the compiler. The cloud stand-in needs root, mmdebstrap and the host
	# arch; where it cannot be made `kharness image` says why in one line (the test skips).
	background images 15 "$k image --kind initramfs && $k image --arch x86_64 --kind rootfs &&
		{ $k image --arch $(uname -m) --kind cloud-local || true; }"
	trap stop_background EXIT
	trap 'stop_background; exit 130' INT TERM
fi
# lint and types first: a failure here fails the suite (ruff's rules and mypy --strict are
# configured in pyproject.toml)
.venv/bin/ruff check harness tests bench     # guest_tests/ is harness/guest_tests/
.venv/bin/mypy          # --strict over harness/ (incl. the guest suite), tests/, bench/
# slow tests (the real-kernel bisect demonstration): bash scripts/test.sh -m slow
# racers (guest_tests/test_racers.py): 10 s each in CI (30 s in kharness run, 300 s with -m slow)
export KHARNESS_RACER_SECONDS="${KHARNESS_RACER_SECONDS:-10}"
rc=0
.venv/bin/python -m pytest tests guest_tests -ra --durations=40 -m "not slow" "$@" || rc=$?
for i in "${!bg_pids[@]}"; do
	pid=${bg_pids[$i]} name=${bg_names[$i]}
	if kill -0 "$pid" 2>/dev/null; then
		echo "test.sh: tests finished first; stopping the background $name job"
		kill -- -"$pid" 2>/dev/null || true
	elif wait "$pid"; then echo "test.sh: background $name: ok"
	else echo "test.sh: background $name failed; last lines of .kharness/$name.log:"
		tail -n 15 ".kharness/$name.log"
	fi
done
exit "$rc"
