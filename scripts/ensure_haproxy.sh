#!/usr/bin/env bash
# The reverse-proxy test runs the documented example (examples/haproxy-two-hubs.cfg) in Debian's
# haproxy. Quiet when present; with CI=true a failed install is fatal (the test would only skip).
# Without recommends; the package's own service has no frontend, so it listens on nothing.
# Other apt users may hold the lock, so wait for it rather than fail.
set -u
command -v haproxy >/dev/null 2>&1 && exit 0
apt() { DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 "$@"; }
install() { apt install -y -q --no-install-recommends haproxy >/dev/null; }
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    install || { apt update -q >/dev/null && install; }
fi
if ! command -v haproxy >/dev/null 2>&1; then
    if [ "${CI:-}" = "true" ]; then
        echo "ensure_haproxy: cannot install Debian's haproxy package; the reverse-proxy test needs it" >&2
        exit 1
    fi
    echo "ensure_haproxy: haproxy is not installed; the reverse-proxy test will be skipped" >&2
fi
exit 0
