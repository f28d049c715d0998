#!/usr/bin/env bash
# Makes sure the real peers kcore's interop tests run against are installed.
# Idempotent: installs nothing when everything is there. As root it apt-installs what is
# missing; otherwise it says what is missing and how to get it (tests needing it then skip,
# or fail when KCORE_REQUIRE_PEERS=1).
set -euo pipefail

declare -A probe=(
  [etcd-server]=/usr/bin/etcd
  [etcd-client]=/usr/bin/etcdctl
  [containernetworking-plugins]=/usr/lib/cni/bridge
  [containerd]=/usr/bin/containerd
  [runc]=/usr/sbin/runc
)
missing=()
for pkg in etcd-server etcd-client containernetworking-plugins containerd runc; do
  [ -e "${probe[$pkg]}" ] || missing+=("$pkg")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-peers: all peers present (etcd, etcdctl, CNI plugins, containerd, runc)"
  exit 0
fi
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "install-peers: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  echo "install-peers: installed ${missing[*]}"
else
  echo "install-peers: missing ${missing[*]}; install with: sudo apt-get install ${missing[*]}" >&2
  echo "install-peers: tests needing them will skip (or fail with KCORE_REQUIRE_PEERS=1)" >&2
fi
