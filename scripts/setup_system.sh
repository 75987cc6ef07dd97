#!/usr/bin/env bash
# System packages prmlab needs beyond pip (idempotent): bubblewrap, which gives the sandbox its
# Linux namespaces (no network, read-only file system, private /tmp and pid space). Without it the
# sandbox can still run with sandbox.isolation=process (weaker); auto picks the best available.
set -euo pipefail
if command -v bwrap >/dev/null 2>&1; then
  echo "setup_system: bubblewrap present ($(bwrap --version))"
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "setup_system: bubblewrap missing and not root (no sudo): install the 'bubblewrap' package" >&2
    exit 1
  fi
fi
if command -v apt-get >/dev/null 2>&1; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq bubblewrap
else
  echo "setup_system: no apt-get here; install bubblewrap with your package manager" >&2
  exit 1
fi
echo "setup_system: installed $(bwrap --version)"
