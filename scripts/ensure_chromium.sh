#!/usr/bin/env bash
# The dashboard's browser tests drive Debian's Chromium: install it when it is missing.
# Quiet when present; with CI=true a failed install is fatal (the tests would only skip).
set -u
[ -x /usr/bin/chromium ] && exit 0
# Without recommends: the browser alone, not ~120 packages and a systemd upgrade. Other apt
# users may hold the lock: wait for it rather than fail.
apt() { DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 "$@"; }
install() { apt install -y -q --no-install-recommends chromium >/dev/null; }
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    install || { apt update -q >/dev/null && install; }
fi
if [ ! -x /usr/bin/chromium ]; then
    if [ "${CI:-}" = "true" ]; then
        echo "ensure_chromium: cannot install Debian's chromium package; the dashboard tests need it" >&2
        exit 1
    fi
    echo "ensure_chromium: chromium is not installed; the dashboard tests will be skipped" >&2
fi
exit 0
