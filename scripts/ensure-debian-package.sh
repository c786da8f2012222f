#!/usr/bin/env bash
# Makes sure a command from a Debian package is installed: usage PACKAGE COMMAND "WHAT NEEDS IT".
# Installs the package with apt-get when running as root on Debian/Ubuntu; otherwise says how (and
# exits 0: only some tests need it, and they say so when it is missing, except under CI).
set -euo pipefail
package="$1" command="$2" need="$3"

if command -v "$command" >/dev/null 2>&1 || [ -x "/usr/bin/$command" ]; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "shardflow: $command not found, installing the Debian package $package" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "$package" >/dev/null
  exit 0
fi
cat >&2 <<MSG
shardflow: $command is not installed ($need; without it they are skipped, except under CI).
  On Debian/Ubuntu:  sudo apt-get install -y --no-install-recommends $package
MSG
exit 0
