#!/usr/bin/env bash
# The /metrics tests run promtool and a real Prometheus server: Debian's `prometheus` package.
# Quiet when present; with CI=true a failed install is fatal (the tests would only skip).
# Without recommends (no node exporter, no extra services); other apt users may hold the lock,
# so wait for it rather than fail.
set -u
command -v promtool >/dev/null 2>&1 && command -v prometheus >/dev/null 2>&1 && exit 0
apt() { DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 "$@"; }
install() { apt install -y -q --no-install-recommends prometheus >/dev/null; }
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    install || { apt update -q >/dev/null && install; }
fi
if ! command -v promtool >/dev/null 2>&1; then
    if [ "${CI:-}" = "true" ]; then
        echo "ensure_prometheus: cannot install Debian's prometheus package; the /metrics tests need it" >&2
        exit 1
    fi
    echo "ensure_prometheus: prometheus is not installed; its /metrics tests will be skipped" >&2
fi
exit 0
