#!/usr/bin/env bash
# Apache Spark for the dbt models (dbt target `spark`, REENGAGE_WAREHOUSE_KIND=spark): Java and
# dbt-spark, with Spark itself inside the pyspark package (local mode, in the dbt process).
#
#   scripts/spark.sh install [PYTHON]  # install what is missing, then print the environment (default)
#   scripts/spark.sh env [PYTHON]      # print the environment: JAVA_HOME, REENGAGE_SPARK_DBT, the settings
#   scripts/spark.sh status [PYTHON]   # exit 0 when Java 17+ and the Spark environment are installed
#   scripts/spark.sh check [PYTHON]    # start a Spark session as dbt does and run one query
#
#   eval "$(scripts/spark.sh install)"   # install if needed and export JAVA_HOME, ... in this shell
#
# PYTHON is the project's virtual environment's interpreter (default .venv/bin/python beside this
# folder). Works as root on a fresh Debian 12 machine, non-interactively, and is safe to run again:
# every step checks first. Debian's `openjdk-17-jre-headless` is installed with apt-get when no
# Java 17 or later is found (root, or sudo without a password).
#
# dbt on Spark gets a virtual environment of its own, REENGAGE_SPARK_VENV (default .venv-spark
# beside .venv), made from PYTHON's interpreter: requirements-spark.lock (exact pins of dbt-spark,
# pyspark and what they bring) constrained by requirements.lock, so its dbt is the product's. Never
# the product's environment: once pyspark is importable there, Great Expectations imports it, and
# pyspark ends a process started with `python -c` (as multiprocessing starts its workers) at once,
# with exit status 0, when its optional Spark Connect packages are missing.
#
# The environment `env` prints: JAVA_HOME; REENGAGE_SPARK_DBT, that environment's dbt (its python
# beside it), the dbt the pipeline runs on the kind (the spark.dbt setting); and the settings the
# profile's `spark` output reads (REENGAGE_SPARK_HOME, REENGAGE_SPARK_MASTER,
# REENGAGE_SPARK_DRIVER_MEMORY, REENGAGE_SPARK_THREADS) as reengage/settings.py resolves them
# (environment, then reengage.toml, then the defaults). Progress goes to stderr.

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LOCK="${ROOT}/requirements-spark.lock"
PRODUCT_LOCK="${ROOT}/requirements.lock"
MIN_JAVA=17

log() { printf 'spark.sh: %s\n' "$*" >&2; }
die() {
    printf 'spark.sh: ERROR: %s\n' "$*" >&2
    exit 1
}

COMMAND="${1:-install}"
PYTHON="${2:-${ROOT}/.venv/bin/python}"
SPARK_VENV="${REENGAGE_SPARK_VENV:-${ROOT}/.venv-spark}"
SPARK_PYTHON="${SPARK_VENV}/bin/python"

# The major version of a java binary (8 for 1.8.0_x, 17 for 17.0.15), empty when it does not run.
java_major() {
    local version
    version="$("$1" -version 2>&1 | sed -n 's/.* version "\([^"]*\)".*/\1/p' | head -n 1)" || return 0
    version="${version#1.}"
    printf '%s' "${version%%[.+-]*}"
}

# JAVA_HOME of the first Java 17+ found: $JAVA_HOME, the `java` on PATH, Debian's /usr/lib/jvm.
find_java_home() {
    local candidate major
    local -a candidates=()
    [[ -n "${JAVA_HOME:-}" ]] && candidates+=("${JAVA_HOME}/bin/java")
    command -v java >/dev/null 2>&1 && candidates+=("$(readlink -f "$(command -v java)")")
    for candidate in $(ls -d /usr/lib/jvm/*/bin/java 2>/dev/null | sort -V -r); do
        candidates+=("${candidate}")
    done
    for candidate in "${candidates[@]}"; do
        [[ -x "${candidate}" ]] || continue
        major="$(java_major "${candidate}")"
        if [[ "${major}" =~ ^[0-9]+$ ]] && ((major >= MIN_JAVA)); then
            dirname "$(dirname "${candidate}")"
            return 0
        fi
    done
    return 1
}

install_java() {
    local -a sudo=()
    if [[ "$(id -u)" != 0 ]]; then
        if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
            sudo=(sudo -n)
        else
            die "no Java ${MIN_JAVA} or later is installed and this user cannot install it (not root, no password-less sudo).
Install it once with:  apt-get install -y openjdk-17-jre-headless"
        fi
    fi
    command -v apt-get >/dev/null 2>&1 || die "no Java ${MIN_JAVA} or later is installed and apt-get is not available; install a Java ${MIN_JAVA}+ runtime by hand (or set JAVA_HOME to one)."
    log "installing Debian's openjdk-17-jre-headless (apt-get) ..."
    export DEBIAN_FRONTEND=noninteractive
    "${sudo[@]}" apt-get update -qq >&2 || die "apt-get update failed"
    "${sudo[@]}" apt-get install -y -qq --no-install-recommends openjdk-17-jre-headless >&2 \
        || die "apt-get install openjdk-17-jre-headless failed"
}

ensure_java() {
    JAVA_HOME_FOUND="$(find_java_home || true)"
    if [[ -z "${JAVA_HOME_FOUND}" ]]; then
        install_java
        JAVA_HOME_FOUND="$(find_java_home)" || die "openjdk-17-jre-headless installed but no Java ${MIN_JAVA}+ was found under /usr/lib/jvm"
    else
        log "Java $(java_major "${JAVA_HOME_FOUND}/bin/java") found at ${JAVA_HOME_FOUND}"
    fi
}

check_python() {
    [[ -x "${PYTHON}" ]] || die "no Python at ${PYTHON}: create the project's environment first (python3 dev.py test does), or name its python"
}

# Exit 0 when every pin of requirements-spark.lock is installed in the Spark environment at its version.
packages_installed() {
    [[ -x "${SPARK_PYTHON}" ]] || {
        echo "missing: the Spark environment ${SPARK_VENV}" >&2
        return 1
    }
    "${SPARK_PYTHON}" - "${LOCK}" <<'PY'
import sys
from importlib import metadata

missing = []
for line in open(sys.argv[1]):
    line = line.split("#", 1)[0].strip()
    if not line:
        continue
    name, _, wanted = line.partition("==")
    name = name.split("[", 1)[0]
    try:
        found = metadata.version(name)
    except metadata.PackageNotFoundError:
        found = None
    if found != wanted:
        missing.append(f"{name}=={wanted} (installed: {found})")
if missing:
    print("missing: " + ", ".join(missing), file=sys.stderr)
    sys.exit(1)
PY
}

ensure_packages() {
    if packages_installed 2>/dev/null; then
        log "dbt-spark and pyspark already installed in ${SPARK_VENV}"
        return 0
    fi
    if [[ ! -x "${SPARK_PYTHON}" ]]; then
        log "creating the Spark environment ${SPARK_VENV} ..."
        "${PYTHON}" -c 'import sys, venv; venv.EnvBuilder(with_pip=True).create(sys.argv[1])' "${SPARK_VENV}" >&2 \
            || die "could not create ${SPARK_VENV}"
    fi
    log "installing requirements-spark.lock into ${SPARK_VENV} (pyspark is built from its source, about a minute) ..."
    "${SPARK_PYTHON}" -m pip install --disable-pip-version-check -q -r "${LOCK}" -c "${PRODUCT_LOCK}" >&2 \
        || die "pip install -r requirements-spark.lock failed"
    packages_installed || die "requirements-spark.lock is not fully installed after pip install"
}

print_env() {
    printf 'export JAVA_HOME=%q\n' "${JAVA_HOME_FOUND}"
    printf 'export REENGAGE_SPARK_DBT=%q\n' "${SPARK_VENV}/bin/dbt"
    "${PYTHON}" -m reengage.spark.layout env || die "could not read the Spark settings with ${PYTHON} (is the project installed in it?)"
}

cmd_install() {
    check_python
    ensure_java
    ensure_packages
    print_env
    log "ready: Java at ${JAVA_HOME_FOUND}, dbt-spark in ${SPARK_VENV}"
}

cmd_env() {
    check_python
    JAVA_HOME_FOUND="$(find_java_home)" || die "no Java ${MIN_JAVA} or later found: run '$0 install' first"
    print_env
}

cmd_status() {
    check_python
    JAVA_HOME_FOUND="$(find_java_home)" || {
        log "no Java ${MIN_JAVA} or later"
        return 3
    }
    packages_installed || return 3
    log "Java at ${JAVA_HOME_FOUND}; dbt-spark and pyspark installed in ${SPARK_VENV}"
}

cmd_check() {
    cmd_status || die "not installed: run '$0 install' first"
    log "starting a local Spark session ..."
    JAVA_HOME="${JAVA_HOME_FOUND}" "${SPARK_PYTHON}" - <<'PY' >&2 || die "Spark did not start or could not run a query"
from pyspark.sql import SparkSession

spark = (
    SparkSession.builder.master("local[1]")
    .config("spark.ui.enabled", "false")
    .config("spark.sql.session.timeZone", "UTC")
    .getOrCreate()
)
try:
    assert spark.sql("select 1 + 1 as two").collect()[0].two == 2
    print(f"spark.sh: Spark {spark.version} answers")
finally:
    spark.stop()
PY
}

case "${COMMAND}" in
    install) cmd_install ;;
    env) cmd_env ;;
    status) cmd_status ;;
    check) cmd_check ;;
    -h | --help | help) sed -n '2,28p' "$0" ;;
    *) die "unknown command '${COMMAND}' (install, env, status, check)" ;;
esac
