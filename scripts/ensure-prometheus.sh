#!/usr/bin/env bash
# Makes sure Prometheus (Debian package `prometheus`) is on PATH: the test of deploy/prometheus.yml runs
# a real one. Installs it with apt-get when running as root on Debian/Ubuntu; otherwise says how.
set -euo pipefail

if command -v prometheus >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "shardflow: prometheus not found, installing the Debian package prometheus" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends prometheus >/dev/null
  exit 0
fi
cat >&2 <<'MSG'
shardflow: prometheus is not installed (only the test of deploy/prometheus.yml needs it; it is skipped
without it, except under CI).
  On Debian/Ubuntu:  sudo apt-get install -y --no-install-recommends prometheus
MSG
exit 0
