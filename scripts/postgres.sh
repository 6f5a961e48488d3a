#!/usr/bin/env bash
# A throw-away PostgreSQL server for the warehouse tests and for trying the
# dbt models on PostgreSQL (dbt target `postgres`).
#
#   scripts/postgres.sh start    # install if missing, init, start, create db + user (default)
#   scripts/postgres.sh env      # print the PG* variables of the running server
#   scripts/postgres.sh status   # exit 0 when the server answers
#   scripts/postgres.sh stop     # stop the server (the data folder is kept)
#   scripts/postgres.sh destroy  # stop and delete the data folder
#
#   eval "$(scripts/postgres.sh start)"   # start and export PGHOST, PGPORT, ... in this shell
#
# Works as root on a fresh Debian 12 machine, non-interactively, and is safe to
# run again: every step checks first. Debian's `postgresql` package is installed
# with apt-get when no PostgreSQL server binaries are found (root, or sudo
# without a password). The cluster lives in its own folder, listens on
# 127.0.0.1 only, and never touches the system's default cluster.
#
# Settings (environment variables):
#   REENGAGE_PG_PORT     port on 127.0.0.1                     (54329)
#   REENGAGE_PG_DATA     data folder                           (/tmp/reengage-postgres-$PORT)
#   REENGAGE_PG_DB       database                              (reengage)
#   REENGAGE_PG_USER     login role (owner of the database)    (reengage)
#   REENGAGE_PG_PASSWORD its password                          (reengage)
#   REENGAGE_PG_ENV_FILE where `start` writes the PG* exports  ($REENGAGE_PG_DATA/pg.env)
#
# On success `start` prints `export PG...=...` lines on stdout (progress goes
# to stderr) and writes the same lines to $REENGAGE_PG_ENV_FILE.

set -euo pipefail

PORT="${REENGAGE_PG_PORT:-54329}"
DATA="${REENGAGE_PG_DATA:-/tmp/reengage-postgres-${PORT}}"
DB="${REENGAGE_PG_DB:-reengage}"
DB_USER="${REENGAGE_PG_USER:-reengage}"
DB_PASSWORD="${REENGAGE_PG_PASSWORD:-reengage}"
ENV_FILE="${REENGAGE_PG_ENV_FILE:-${DATA}/pg.env}"
PGDATA_DIR="${DATA}/cluster"
SOCKET_DIR="${DATA}/socket"
LOG_FILE="${DATA}/postgres.log"

log() { printf 'postgres.sh: %s\n' "$*" >&2; }
die() {
    printf 'postgres.sh: ERROR: %s\n' "$*" >&2
    exit 1
}

# Server binaries: Debian keeps them in /usr/lib/postgresql/<major>/bin, off the PATH.
find_bindir() {
    local candidate
    for candidate in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        if [[ -x "${candidate}/initdb" && -x "${candidate}/pg_ctl" && -x "${candidate}/postgres" ]]; then
            echo "${candidate}"
            return 0
        fi
    done
    if command -v pg_ctl >/dev/null 2>&1 && command -v initdb >/dev/null 2>&1; then
        dirname "$(command -v pg_ctl)"
        return 0
    fi
    return 1
}

install_postgres() {
    local -a sudo=()
    if [[ "$(id -u)" != 0 ]]; then
        if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
            sudo=(sudo -n)
        else
            die "PostgreSQL is not installed and this user cannot install it (not root, no password-less sudo).
Install it once with:  apt-get install -y postgresql"
        fi
    fi
    command -v apt-get >/dev/null 2>&1 || die "PostgreSQL is not installed and apt-get is not available; install a PostgreSQL server (initdb, pg_ctl) by hand."
    log "installing Debian's postgresql package (apt-get) ..."
    export DEBIAN_FRONTEND=noninteractive
    "${sudo[@]}" apt-get update -qq >&2 || die "apt-get update failed"
    "${sudo[@]}" apt-get install -y -qq --no-install-recommends postgresql postgresql-contrib >&2 \
        || die "apt-get install postgresql failed"
}

# initdb and postgres refuse to run as root: run them as the `postgres` system user then.
as_owner() {
    if [[ "$(id -u)" == 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

write_env() {
    local lines
    lines="export PGHOST=127.0.0.1
export PGPORT=${PORT}
export PGUSER=${DB_USER}
export PGPASSWORD=${DB_PASSWORD}
export PGDATABASE=${DB}"
    mkdir -p "$(dirname "${ENV_FILE}")"
    printf '%s\n' "${lines}" >"${ENV_FILE}"
    printf '%s\n' "${lines}"
}

is_running() {
    [[ -n "${BINDIR:-}" && -f "${PGDATA_DIR}/PG_VERSION" ]] || return 1
    as_owner "${BINDIR}/pg_ctl" -D "${PGDATA_DIR}" status >/dev/null 2>&1
}

cmd_start() {
    BINDIR="$(find_bindir || true)"
    if [[ -z "${BINDIR}" ]]; then
        install_postgres
        BINDIR="$(find_bindir)" || die "postgresql installed but initdb/pg_ctl were not found under /usr/lib/postgresql"
    fi
    if [[ "$(id -u)" == 0 ]] && ! id postgres >/dev/null 2>&1; then
        die "running as root but the 'postgres' system user does not exist (reinstall the postgresql package)"
    fi

    mkdir -p "${DATA}" "${SOCKET_DIR}"
    touch "${LOG_FILE}"
    if [[ "$(id -u)" == 0 ]]; then
        chown postgres: "${DATA}" "${SOCKET_DIR}" "${LOG_FILE}"
        chmod 0755 "${DATA}"
    fi

    if [[ ! -f "${PGDATA_DIR}/PG_VERSION" ]]; then
        log "initialising a cluster in ${PGDATA_DIR}"
        rm -rf "${PGDATA_DIR}"
        as_owner mkdir -p "${PGDATA_DIR}"
        as_owner chmod 0700 "${PGDATA_DIR}"
        as_owner "${BINDIR}/initdb" -D "${PGDATA_DIR}" -U postgres --encoding=UTF8 --locale=C \
            --auth-local=trust --auth-host=scram-sha-256 >>"${LOG_FILE}" 2>&1 \
            || die "initdb failed, see ${LOG_FILE}"
    fi

    if is_running; then
        log "already running on 127.0.0.1:${PORT} (${PGDATA_DIR})"
    else
        if (exec 3<>"/dev/tcp/127.0.0.1/${PORT}") 2>/dev/null; then
            die "port ${PORT} on 127.0.0.1 is taken by another program; set REENGAGE_PG_PORT to a free port"
        fi
        log "starting on 127.0.0.1:${PORT}"
        # timezone UTC: day boundaries never depend on the machine's zone (the models cast to UTC anyway);
        # fsync and friends off: a throw-away test server, speed over durability
        as_owner "${BINDIR}/pg_ctl" -D "${PGDATA_DIR}" -l "${LOG_FILE}" -w -t 60 start \
            -o "-c listen_addresses=127.0.0.1 -p ${PORT} -c unix_socket_directories=${SOCKET_DIR} -c timezone=UTC -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
            >&2 || die "the server did not start, see ${LOG_FILE}"
    fi

    local psql_bin="${BINDIR}/psql"
    [[ -x "${psql_bin}" ]] || psql_bin="$(command -v psql)" || die "psql not found"
    local quoted_password="${DB_PASSWORD//\'/\'\'}"
    # superuser over the private unix socket (trust), whatever the login role's password
    as_owner "${psql_bin}" -X -q -v ON_ERROR_STOP=1 -h "${SOCKET_DIR}" -p "${PORT}" -U postgres -d postgres >&2 <<SQL || die "could not create role ${DB_USER} / database ${DB}"
do \$\$
begin
    if not exists (select from pg_roles where rolname = '${DB_USER}') then
        create role "${DB_USER}" login password '${quoted_password}';
    else
        alter role "${DB_USER}" login password '${quoted_password}';
    end if;
end
\$\$;
select 'create database "${DB}" owner "${DB_USER}"'
where not exists (select from pg_database where datname = '${DB}') \gexec
SQL
    write_env
    log "ready: database ${DB} as ${DB_USER} on 127.0.0.1:${PORT}; env in ${ENV_FILE}"
}

cmd_stop() {
    BINDIR="$(find_bindir || true)"
    if [[ -n "${BINDIR}" ]] && is_running; then
        as_owner "${BINDIR}/pg_ctl" -D "${PGDATA_DIR}" -m fast -w stop >&2
    else
        log "not running"
    fi
}

cmd_status() {
    BINDIR="$(find_bindir || true)"
    if is_running; then
        log "running on 127.0.0.1:${PORT} (${PGDATA_DIR})"
        return 0
    fi
    log "not running"
    return 3
}

cmd_env() {
    [[ -f "${ENV_FILE}" ]] || die "no ${ENV_FILE}: run '$0 start' first"
    cat "${ENV_FILE}"
}

cmd_destroy() {
    cmd_stop
    rm -rf "${DATA}"
    log "removed ${DATA}"
}

case "${1:-start}" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    env) cmd_env ;;
    destroy) cmd_destroy ;;
    -h | --help | help) sed -n '2,30p' "$0" ;;
    *) die "unknown command '$1' (start, stop, status, env, destroy)" ;;
esac
