#!/usr/bin/env bash
# kharness host set-up for a fresh Debian 12 (or Ubuntu) machine. Idempotent.
# As root it runs apt-get directly; as a normal user it uses sudo for apt-get only.
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
PKGS=(python3 python3-venv python3-pip git make gcc gcc-aarch64-linux-gnu libc6-dev-arm64-cross
      flex bison bc perl cpio xz-utils zstd tar libelf-dev libssl-dev qemu-system-x86
      qemu-system-arm qemu-utils gpgv debian-archive-keyring binutils e2fsprogs openssh-client
      chromium genisoimage qemu-user-static mmdebstrap sparse clang-19 lld-19 llvm-19)
missing=()
for p in "${PKGS[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p"); done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "+ apt-get install ${missing[*]}"
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
if [ ! -x .venv/bin/python ]; then python3 -m venv .venv; fi
.venv/bin/pip install -q --upgrade pip >/dev/null
.venv/bin/pip install -q -e '.[dev]'
.venv/bin/kharness doctor --install
