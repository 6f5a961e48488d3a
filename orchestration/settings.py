"""Where the pipeline keeps its files, read from the environment.

Every stage asks this module instead of hard-coding paths, so a test can point
the whole pipeline at a temporary folder by setting `REENGAGE_HOME`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
EXPECTATIONS_DIR = REPO_ROOT / "expectations"
CAMPAIGNS_DIR = REPO_ROOT / "campaigns"


def home() -> Path:
    return Path(os.environ.get("REENGAGE_HOME", REPO_ROOT / ".data")).resolve()


def warehouse_path() -> Path:
    return Path(os.environ.get("REENGAGE_WAREHOUSE", home() / "warehouse.duckdb"))


# Where the tables live: the embedded DuckDB file, or a PostgreSQL database (libpq PG* variables).
# The Python stages and dbt both follow this one switch (dbt_project/profiles.yml picks its target from it).
WAREHOUSE_KINDS = ("duckdb", "postgres")
# The dbt target each kind builds with, unless REENGAGE_DBT_TARGET names another one.
DBT_TARGET_OF_KIND = {"duckdb": "dev", "postgres": "postgres"}


def warehouse_kind() -> str:
    kind = os.environ.get("REENGAGE_WAREHOUSE_KIND", "duckdb").strip().lower() or "duckdb"
    if kind not in WAREHOUSE_KINDS:
        raise ValueError(f"REENGAGE_WAREHOUSE_KIND={kind!r} is not one of {', '.join(WAREHOUSE_KINDS)}")
    target = os.environ.get("REENGAGE_DBT_TARGET")
    other = {v: k for k, v in DBT_TARGET_OF_KIND.items()}.get(target or "", kind)
    if other != kind:
        # dbt would build one warehouse while the Python stages read and write the other.
        raise ValueError(
            f"REENGAGE_DBT_TARGET={target} builds the {other} warehouse but REENGAGE_WAREHOUSE_KIND is "
            f"{kind}; unset REENGAGE_DBT_TARGET or make them agree"
        )
    return kind


def dbt_target() -> str:
    return os.environ.get("REENGAGE_DBT_TARGET") or DBT_TARGET_OF_KIND[warehouse_kind()]


def postgres_params() -> dict[str, str]:
    """Where the PostgreSQL warehouse is, from the libpq variables, with dbt's profile defaults.

    The password is not here: libpq reads PGPASSWORD (or ~/.pgpass) itself, so it never
    appears in a connection string that a driver's error message could echo.
    """
    return {
        "host": os.environ.get("PGHOST", "localhost"),
        "port": os.environ.get("PGPORT", "5432"),
        "user": os.environ.get("PGUSER", "postgres"),
        "dbname": os.environ.get("PGDATABASE", "reengage"),
    }


def landing_dir() -> str:
    """A local path or any fsspec URL."""
    return os.environ.get("REENGAGE_LANDING", str(home() / "landing"))


# A symbolic link in a local landing folder that leads outside it is refused unless this is on:
# a link can make ingest read another folder's exports or any file the process may read.
LANDING_FOLLOW_OUTSIDE_LINKS = "REENGAGE_LANDING_FOLLOW_OUTSIDE_LINKS"
TRUE_WORDS = ("1", "true", "yes", "on")


def landing_follows_outside_links() -> bool:
    return flag(LANDING_FOLLOW_OUTSIDE_LINKS)


def flag(name: str) -> bool:
    """An on/off setting: on for 1, true, yes or on (any case); off when unset or anything else."""
    return os.environ.get(name, "").strip().lower() in TRUE_WORDS


def ledger_path() -> Path:
    return home() / "send_ledger.sqlite"


# Where delivery sends: the real SendGrid API unless REENGAGE_SENDGRID_HOST names another base URL (with
# SENDGRID_API_KEY), or REENGAGE_LOCAL_SINK_URL names a local SendGrid-compatible sink (no key needed).
# Nothing else ever sends to a sink: production refuses to deliver without a key or this explicit setting.
SENDGRID_API = "https://api.sendgrid.com"
SENDGRID_HOST = "REENGAGE_SENDGRID_HOST"
LOCAL_SINK_URL = "REENGAGE_LOCAL_SINK_URL"


def sendgrid_host() -> str:
    return os.environ.get(SENDGRID_HOST, "").strip() or SENDGRID_API


def local_sink_url() -> str:
    """The local sink's base URL, or "" when none is named (then delivery needs a real API key)."""
    return os.environ.get(LOCAL_SINK_URL, "").strip()


def privacy_pepper() -> str | None:
    """The secret key of the forget list's hashes (REENGAGE_PRIVACY_PEPPER), None when unset.

    There is no default: every stored key depends on it, so a built-in value would let a
    deployment that forgot the setting quietly use a key everybody knows (docs/privacy.md).
    """
    value = os.environ.get("REENGAGE_PRIVACY_PEPPER", "")
    return value if value.strip() else None


def model_dir() -> Path:
    return home() / "model_registry"


def truth_path() -> Path:
    return home() / "truth" / "user_truth.parquet"


# Schedules, the exports sensor and alerts. Each is read when it is used, so a deployment's
# environment (or a test's) applies without a restart of anything but the code location.


def environment() -> Mapping[str, str]:
    """The process environment, for the settings parsed with their own rules elsewhere
    (the schedule's zone and hour, the volume breakers' REENGAGE_VOLUME_* family)."""
    return os.environ


def scoring_hour() -> int:
    """UTC hour of the daily scoring schedule (REENGAGE_SCORING_HOUR, default 7)."""
    return int(os.environ.get("REENGAGE_SCORING_HOUR", "7"))


def retrain_cron() -> str:
    """When the models are refitted (REENGAGE_RETRAIN_CRON, UTC; default Monday 05:00)."""
    return os.environ.get("REENGAGE_RETRAIN_CRON", "0 5 * * 1")


def sensor_lookback_days() -> int:
    """Days before today whose exports the landing sensor still watches (REENGAGE_SENSOR_LOOKBACK_DAYS)."""
    return int(os.environ.get("REENGAGE_SENSOR_LOOKBACK_DAYS", "2"))


def email_events_grace_minutes() -> float:
    """How long the sensor waits for the email events once the other exports settled."""
    return float(os.environ.get("REENGAGE_EMAIL_EVENTS_GRACE_MINUTES", "60"))


def sensor_interval_seconds() -> int:
    return int(os.environ.get("REENGAGE_SENSOR_INTERVAL_SECONDS", "60"))


ALERT_WEBHOOK_URL = "REENGAGE_ALERT_WEBHOOK_URL"
ALERT_TIMEOUT_SECONDS = "REENGAGE_ALERT_TIMEOUT_SECONDS"
DAGSTER_URL = "REENGAGE_DAGSTER_URL"


def alert_webhook_url() -> str:
    """Where alerts are posted (a Slack-compatible incoming webhook); "" when none. It holds a token."""
    return os.environ.get(ALERT_WEBHOOK_URL, "").strip()


def alert_timeout_seconds() -> float:
    return float(os.environ.get(ALERT_TIMEOUT_SECONDS, "5"))


def dagster_home() -> Path:
    """Where Dagster keeps runs for the UI: DAGSTER_HOME, else the home's `dagster_home` (where
    `python3 dev.py ui` and the demo keep them)."""
    return Path(os.environ.get("DAGSTER_HOME") or home() / "dagster_home")


def dagster_url() -> str:
    """The UI's base URL (e.g. https://dagster.example.com), to link a failed run in its alert."""
    return os.environ.get(DAGSTER_URL, "").rstrip("/")


SENDGRID_API_KEY = "SENDGRID_API_KEY"


def sendgrid_api_key() -> str:
    """The SendGrid key, read from the environment only and never logged."""
    return os.environ.get(SENDGRID_API_KEY, "")
