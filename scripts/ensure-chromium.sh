#!/usr/bin/env bash
# Makes sure Chromium (Debian package `chromium`) is installed: the console's browser tests drive it
# with playwright-core, which downloads no browser of its own.
exec bash "$(dirname "$0")/ensure-debian-package.sh" chromium chromium "only the console's browser tests need it"
