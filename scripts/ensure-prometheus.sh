#!/usr/bin/env bash
# Makes sure Prometheus (Debian package `prometheus`) is on PATH: the test of deploy/prometheus.yml runs
# a real one.
exec bash "$(dirname "$0")/ensure-debian-package.sh" prometheus prometheus "only the test of deploy/prometheus.yml needs it"
