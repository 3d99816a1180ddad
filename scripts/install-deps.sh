#!/usr/bin/env bash
# Installs what a fresh Debian machine with the Swift toolchain lacks, and nothing
# that is already there.
#
#   scripts/install-deps.sh run     build and run: the C libraries and PostgreSQL
#   scripts/install-deps.sh test    also the Python clients of the end-to-end tests and the
#                                   headless Chromium (with its driver) that they drive
#   scripts/install-deps.sh bench   also wrk, nginx and valgrind (callgrind instruction counts)
#   scripts/install-deps.sh ha      what `test` installs, and the high-availability stack of
#                                   `make test-ha`: Patroni, etcd, PgBouncer and HAProxy
set -euo pipefail
mode=${1:-run}
here=$(cd "$(dirname "$0")/.." && pwd)

packages=(pkg-config libssl-dev libpq-dev libargon2-dev postgresql)
case "$mode" in
    run) ;;
    test|ha)
        # python3 may come from elsewhere (pyenv); ask Debian for it only when none can make a venv.
        if ! { command -v python3 >/dev/null 2>&1 && python3 -c 'import venv, ensurepip' >/dev/null 2>&1; }; then
            packages+=(python3 python3-venv)
        fi
        # The browser tests drive Debian's Chromium through Selenium with Debian's matching driver
        # (/usr/bin/chromium, /usr/bin/chromedriver): no browser download at run time.
        packages+=(chromium chromium-driver)
        # The load-balanced test runs several instances behind Debian's HAProxy.
        packages+=(haproxy)
        # The TLS tests drive the server with the OpenSSL command-line client (s_client) too, and
        # Apache's mod_auth_openidc introspects over https as a resource server that insists on https.
        packages+=(openssl apache2 libapache2-mod-auth-openidc)
        # A three-node PostgreSQL cluster managed by Patroni (with one etcd), and a pooler.
        if [ "$mode" = ha ]; then packages+=(patroni etcd-server pgbouncer); fi ;;
    bench) packages+=(wrk nginx-light curl python3 openssl valgrind) ;;
    *) echo "usage: $0 run|test|bench|ha" >&2; exit 2 ;;
esac

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}"
    sudo=""
    if [ "$(id -u)" != 0 ]; then
        command -v sudo >/dev/null || { echo "need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
        sudo="sudo"
    fi
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ "$mode" = test ] || [ "$mode" = ha ]; then
    venv="$here/.build/venv"
    req="$here/Tests/EndToEnd/requirements.txt"
    stamp="$venv/.requirements"
    if [ ! -x "$venv/bin/python" ] || ! cmp -s "$req" "$stamp"; then
        echo "preparing the end-to-end test environment in .build/venv"
        python3 -m venv "$venv"
        "$venv/bin/pip" install -q --disable-pip-version-check -r "$req"
        cp "$req" "$stamp"
    fi
fi
