#!/usr/bin/env bash
# The system programs some tests drive: Chromium (browser tests), Dovecot (IMAP ingestion),
# nginx (the reverse-proxy config). Installs the missing ones from Debian's packages when it
# can (root and apt-get); otherwise says what to install, and those tests skip with a reason
# (or fail under TOCSIN_REQUIRE_SERVICES=1).
set -euo pipefail

missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -x /usr/sbin/dovecot ] || missing+=(dovecot-imapd)
[ -x /usr/sbin/nginx ] || missing+=(nginx-light)
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "system-deps: installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
else
    echo "system-deps: missing ${missing[*]} (install them with your package manager);" \
        "the tests that need them will skip" >&2
fi
