#!/usr/bin/env bash
# System packages prmlab needs beyond pip (idempotent): bubblewrap, which gives the sandbox its
# Linux namespaces (no network, read-only file system, private /tmp and pid space). Without working
# namespaces sandbox.isolation=auto (the default) stops with an error that says how to get them;
# sandbox.isolation=process runs without them, as an explicit and weaker opt-in (README, Sandbox).
set -euo pipefail

check_namespaces() {
  # what the sandbox asks of bwrap: new user (when not root), pid and net namespaces, a read-only root
  local err
  if err=$(bwrap --unshare-user-try --unshare-pid --unshare-net --ro-bind / / --proc /proc --dev /dev true 2>&1); then
    echo "setup_system: bubblewrap can create namespaces here"
  else
    echo "setup_system: WARNING: bwrap cannot create namespaces here: $err" >&2
    echo "setup_system: enable unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1," \
      "user.max_user_namespaces > 0; on Ubuntu >= 23.10 also kernel.apparmor_restrict_unprivileged_userns=0)," \
      "or, in a container, allow it to create namespaces. Until then sandbox.isolation=auto stops with an error." >&2
  fi
}

if command -v bwrap >/dev/null 2>&1; then
  echo "setup_system: bubblewrap present ($(bwrap --version))"
  check_namespaces
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
check_namespaces
