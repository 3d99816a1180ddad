# Sourced by the scripts: finds PostgreSQL's server binaries and defines as_pg_owner,
# which runs a command as the `postgres` user when we are root (PostgreSQL refuses
# to run as root) and as ourselves otherwise.
if [ -z "${PGBIN:-}" ]; then
    for d in /usr/lib/postgresql/*/bin; do
        [ -x "$d/initdb" ] && PGBIN="$d"
    done
fi
if [ -z "${PGBIN:-}" ] || [ ! -x "$PGBIN/initdb" ]; then
    echo "PostgreSQL server binaries not found (install the 'postgresql' package, or set PGBIN)" >&2
    exit 1
fi
export PGBIN

as_pg_owner() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}
