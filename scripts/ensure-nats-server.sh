#!/usr/bin/env bash
# Makes sure a nats-server binary (Debian package `nats-server`, 2.9 or newer) is on PATH.
# Installs it with apt-get when running as root on Debian/Ubuntu; otherwise says how.
set -euo pipefail

if command -v nats-server >/dev/null 2>&1; then
  exit 0
fi
# The same places cluster/nats-server.ts looks in after PATH.
if [ -x /usr/sbin/nats-server ] || [ -x /usr/local/bin/nats-server ]; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "shardflow: nats-server not found, installing the Debian package nats-server" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq nats-server >/dev/null
  exit 0
fi
cat >&2 <<'MSG'
shardflow: nats-server is not installed.
  On Debian/Ubuntu:  sudo apt-get install -y nats-server
  Elsewhere: install nats-server 2.9 or newer and put it on PATH (shardflow looks there, then in
  /usr/sbin and /usr/local/bin).
MSG
exit 1
