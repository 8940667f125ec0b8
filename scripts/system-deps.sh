#!/usr/bin/env bash
# Debian packages the project and its tests need, installed once (a stamp makes it a no-op).
#   voices other than the bot's own for test calls: espeak-ng, flite, and Festival with three voices
#   (festvox-us-slt-hts: HTS slt, festvox-kallpc16k: kal, festvox-kdlpc16k: ked); audio tools: sox
#   (the Makefile adds PortAudio, gcc and PulseAudio for `voicebot talk` and its test)
# Usage: scripts/system-deps.sh [PACKAGE...]   (extra packages for one make target)
# Not root, or no apt-get: the missing packages are named and the script fails.
set -euo pipefail
cd "$(dirname "$0")/.."
PACKAGES="espeak-ng flite festival festvox-us-slt-hts festvox-kallpc16k festvox-kdlpc16k sox libsndfile1 $*"
missing=()
for p in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "system-deps: please install these Debian/Ubuntu packages: ${missing[*]}" >&2
    exit 1
fi
echo "system-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# no Debian service is started by the install: the tests run PostgreSQL, Kamailio and HAProxy
# privately; a system Kamailio would answer SIP on every address at port 5060 (policy-rc.d, exit
# 101: "not now"; one already there, as in a container image, is left as it is)
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# ... nor enabled for the next boot, for the two daemons installed here for the tests alone
for p in kamailio haproxy; do
    if [[ " ${missing[*]} " == *" $p "* ]] && [ -d /run/systemd/system ]; then
        systemctl disable --now "$p" >/dev/null 2>&1 || true
    fi
done
