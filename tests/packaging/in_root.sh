#!/usr/bin/env bash
# Runs a command in ROOT (chroot) with /proc, /dev, and a fresh /tmp and /run, in a private
# mount namespace (nothing is left mounted when it ends). The network is the host's: the
# command's loopback servers are reachable from outside. Ends as the command itself (exec),
# so its PID is the one that started this script.
#   tests/packaging/in_root.sh ROOT COMMAND [ARG...]
set -euo pipefail
root=$(realpath "$1")
shift
exec unshare --mount --propagation private sh -c '
  root=$0
  mount -t proc proc "$root/proc" && mount --rbind /dev "$root/dev" &&
  mount -t tmpfs roomcast-tmp "$root/tmp" && mount -t tmpfs roomcast-run "$root/run" &&
  exec chroot "$root" "$@"' "$root" "$@"
