#!/usr/bin/env bash
# Makes sure Chromium (Debian package `chromium`) is installed: the console's browser tests drive it
# with playwright-core, which downloads no browser of its own. Installs it with apt-get when running as
# root on Debian/Ubuntu; otherwise says how.
set -euo pipefail

if command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ]; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "shardflow: chromium not found, installing the Debian package chromium" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends chromium >/dev/null
  exit 0
fi
cat >&2 <<'MSG'
shardflow: chromium is not installed (only the console's browser tests need it; they are skipped
without it, except under CI).
  On Debian/Ubuntu:  sudo apt-get install -y --no-install-recommends chromium
  Elsewhere: install Chromium so that /usr/bin/chromium exists.
MSG
exit 0
