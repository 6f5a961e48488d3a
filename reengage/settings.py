"""Every setting the pipeline reads: declared once here, read from the environment or `reengage.toml`.

Each setting is a `Setting` in `SETTINGS`: its key in the settings file, the environment variable
that overrides it, its default and what it means. One function, `resolve`, reads every one: the
environment variable when set (deployments and tests keep working unchanged), else the settings
file, else the default. The file is `$REENGAGE_SETTINGS` when that is set (empty: no file), else
`reengage.toml` in the working directory, else there is none and every setting has its default.
`reengage init` writes a commented file with every setting from these declarations
(reengage/settings_template.py). An unknown key or a value of the wrong type is refused with
one line naming the file, the key and what is accepted.

Every stage asks this module instead of hard-coding paths, so a test can point the whole pipeline
at a temporary folder by setting `REENGAGE_HOME`. Values are read when they are used, so a changed
environment or file applies without a restart of anything but the code location.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_ROOT = PACKAGE_DIR.parent  # a source checkout's repository (the docs' generators write there)
# An installed package carries the dbt project, the suites and the example campaigns inside itself
# (setup.py maps the repository's top-level folders in); a source checkout has them beside the package.
INSTALLED = (PACKAGE_DIR / "dbt_project").is_dir()


def shipped(name: str) -> Path:
    """A folder the product ships (`dbt_project`, `expectations`, `campaigns`), installed or in a checkout."""
    return PACKAGE_DIR / name if INSTALLED else REPO_ROOT / name


DBT_PROJECT_DIR = shipped("dbt_project")
EXPECTATIONS_DIR = shipped("expectations")
# The example campaigns `reengage init` copies; the pipeline reads `campaigns_dir()`.
EXAMPLE_CAMPAIGNS_DIR = shipped("campaigns")

SETTINGS_FILE_VAR = "REENGAGE_SETTINGS"
SETTINGS_FILE_NAME = "reengage.toml"

Value = str | int | float | bool | date | None
# What a value of each kind may be, as a refusal says it.
ACCEPTED = {
    "text": "text",
    "path": "a path (or an fsspec URL where the setting says so)",
    "int": "a whole number",
    "float": "a number",
    "bool": "true or false",
    "date": "a date (YYYY-MM-DD)",
}
TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off")


class SettingsError(ValueError):
    """A setting's value cannot be used; the one-line message names where it came from and what works."""


@dataclass(frozen=True)
class Setting:
    key: str  # in the settings file: "schedule.timezone" is `timezone` in the table [schedule]
    env: str  # the environment variable that overrides the file
    kind: str  # a key of ACCEPTED
    default: Value  # None: unset, `default_note` says what applies then
    meaning: str
    default_note: str = ""
    choices: tuple[str, ...] = ()
    accepted: str = ""  # what a refusal calls a good value, when more than the kind says
    example: str = ""  # a value as the file would hold it, for a setting unset by default (TOML)
    # Also settable per source: `<table>.<source>.<name>` and `<ENV PREFIX>_<SOURCE>_<NAME>` win
    # over the setting itself, e.g. volume.customers.statistic, REENGAGE_VOLUME_CUSTOMERS_STATISTIC.
    per_source: bool = False

    @property
    def table(self) -> str:
        return self.key.rpartition(".")[0]

    @property
    def name(self) -> str:
        return self.key.rpartition(".")[2]

    def source_key(self, source: str) -> str:
        return f"{self.table}.{source}.{self.name}" if self.table else f"{source}.{self.name}"

    def source_env(self, source: str) -> str:
        prefix, _, rest = self.env.rpartition(f"_{self.name.upper()}")
        return f"{prefix}_{source.upper()}_{self.name.upper()}{rest}"

    def describe_accepted(self) -> str:
        if self.accepted:
            return self.accepted
        if self.choices:
            return "one of " + ", ".join(self.choices)
        return ACCEPTED[self.kind]


# What a day without a source's export means (sources.<source>.missing_file); each source's default
# is in its contract (reengage/defs/ingest/contracts.py).
MISSING_FILE_RULES = ("required", "no_activity", "no_change")
# Which earlier days a day's row count is compared with (volume.compare).
VOLUME_COMPARE = ("recent_days", "same_weekday")

SETTINGS: tuple[Setting, ...] = (
    Setting(
        "home",
        "REENGAGE_HOME",
        "path",
        None,
        "Where the pipeline keeps its files: the warehouse, the send ledger, saved models, Data Docs, "
        "reports.",
        example='"/srv/reengage"',
        default_note=".data beside the settings file (without one: in the working directory; in a source "
        "checkout: the repository's .data folder)",
    ),
    Setting(
        "campaigns",
        "REENGAGE_CAMPAIGNS",
        "path",
        None,
        "The folder of campaign files (one YAML file per campaign), the analysts' own; `reengage init` "
        "copies the example campaigns into it when it holds none.",
        example='"/srv/reengage/campaigns"',
        default_note="campaigns beside the settings file (without one: in the working directory; in a "
        "source checkout: the repository's campaigns folder)",
        accepted="a local folder",
    ),
    Setting(
        "landing",
        "REENGAGE_LANDING",
        "path",
        None,
        "The landing folder (a local path or any fsspec URL) holding <source>/<source>_<YYYY-MM-DD>.csv|"
        "jsonl|parquet.",
        example='"s3://exports-bucket/reengage"',
        default_note="<home>/landing",
        accepted="a path or an fsspec URL",
    ),
    Setting(
        "landing_follow_outside_links",
        "REENGAGE_LANDING_FOLLOW_OUTSIDE_LINKS",
        "bool",
        False,
        "Whether ingest follows a symbolic link in a local landing folder that leads outside it (a link can "
        "make ingest read another folder's exports or any file the process may read).",
    ),
    Setting(
        "first_day",
        "REENGAGE_FIRST_DAY",
        "date",
        None,
        "The first day of history: the first run-date partition. Read when the code location loads; a run "
        "date before it is refused.",
        example="2011-12-01",
        default_note="the earliest export in the landing folder (any source), else today (UTC)",
    ),
    Setting(
        "warehouse",
        "REENGAGE_WAREHOUSE",
        "path",
        None,
        "The DuckDB warehouse file (unused when warehouse_kind is postgres or spark).",
        example='"/srv/reengage/warehouse.duckdb"',
        default_note="<home>/warehouse.duckdb",
    ),
    Setting(
        "warehouse_kind",
        "REENGAGE_WAREHOUSE_KIND",
        "text",
        "duckdb",
        "Where the tables live: the embedded DuckDB file, or a PostgreSQL database (the libpq PG* "
        "environment variables say which). The Python stages and dbt both follow it. spark builds the dbt "
        "models on Apache Spark as Parquet tables under spark.home; the Python stages keep their own tables "
        "in the DuckDB file, read Spark's through views there and publish theirs under spark.home after "
        "each daily run.",
        choices=("duckdb", "postgres", "spark"),
    ),
    Setting(
        "dbt_target",
        "REENGAGE_DBT_TARGET",
        "text",
        None,
        "The dbt target of dbt_project/profiles.yml to build with; it must build the warehouse_kind's "
        "warehouse.",
        example='"dev"',
        default_note="dev for duckdb, postgres for postgres, spark for spark",
    ),
    Setting(
        "spark.home",
        "REENGAGE_SPARK_HOME",
        "path",
        None,
        "The Spark warehouse's folder (warehouse_kind spark): its Parquet tables (warehouse/), the embedded "
        "metastore naming them (metastore/; one Spark process at a time), the raw tables Spark reads "
        "(raw/<table>/, Parquet) and the stages' tables published for Spark's readers "
        "(stages/<schema>/<table>/, Parquet by run date).",
        example='"/srv/reengage/spark"',
        default_note="<home>/spark",
    ),
    Setting(
        "spark.master",
        "REENGAGE_SPARK_MASTER",
        "text",
        "local[2]",
        "Where dbt's Spark does its work: local[N] runs it inside the dbt process on N threads; a cluster's "
        "master URL (spark://host:7077, yarn, k8s://...) sends it there.",
    ),
    Setting(
        "spark.driver_memory",
        "REENGAGE_SPARK_DRIVER_MEMORY",
        "text",
        "2g",
        "The heap of the Java process dbt starts for Spark (the driver; with a local master it does all "
        "the work), as Spark spells sizes (2g, 4096m).",
    ),
    Setting(
        "spark.threads",
        "REENGAGE_SPARK_THREADS",
        "int",
        1,
        "How many dbt nodes run at once on Spark (dbt's threads, sharing one Spark session). 1 on a local "
        "master, whose cores Spark already gives each node; more on a cluster, whose executors one small "
        "node at a time leaves mostly idle.",
        accepted="a whole number from 1",
    ),
    Setting(
        "spark.dbt",
        "REENGAGE_SPARK_DBT",
        "path",
        None,
        "The dbt executable the pipeline runs on warehouse_kind spark, to parse the project and to build "
        "it: the one in the environment scripts/spark.sh installs dbt-spark into (never the product's own, "
        "which has no spark adapter). `scripts/spark.sh env` prints it.",
        example='"/srv/reengage/.venv-spark/bin/dbt"',
        default_note="unset (required on warehouse_kind spark)",
    ),
    Setting(
        "schedule.timezone",
        "REENGAGE_TIMEZONE",
        "text",
        "UTC",
        "The IANA time zone the daily schedule's hour is read in. Run dates stay UTC dates whatever it is.",
        accepted="an IANA time zone name (examples: UTC, Europe/Berlin, America/New_York)",
    ),
    Setting(
        "schedule.hour",
        "REENGAGE_SCHEDULE_HOUR",
        "int",
        6,
        "The local hour at which the daily schedule starts the day's run.",
        accepted="a whole hour from 0 to 23",
    ),
    Setting(
        "schedule.scoring_hour", "REENGAGE_SCORING_HOUR", "int", 7, "UTC hour of the daily scoring schedule."
    ),
    Setting(
        "schedule.retrain_cron",
        "REENGAGE_RETRAIN_CRON",
        "text",
        "0 5 * * 1",
        "When the models are refitted (a cron expression, UTC; default Monday 05:00).",
    ),
    Setting(
        "sensor.lookback_days",
        "REENGAGE_SENSOR_LOOKBACK_DAYS",
        "int",
        2,
        "Days before today (UTC) whose exports the exports-landed sensor still watches.",
    ),
    Setting(
        "sensor.grace_minutes",
        "REENGAGE_EMAIL_EVENTS_GRACE_MINUTES",
        "float",
        60.0,
        "How long the exports-landed sensor waits for the exports a day may lack (sources whose missing_file "
        "is not required: by default events) once the others settled.",
    ),
    Setting(
        "sensor.interval_seconds",
        "REENGAGE_SENSOR_INTERVAL_SECONDS",
        "int",
        60,
        "Seconds between two ticks of the exports-landed sensor.",
    ),
    Setting(
        "sources.missing_file",
        "REENGAGE_MISSING_FILE",
        "text",
        None,
        "What a day without a source's export means: required (the run fails: the export is late or lost), "
        "no_activity (nothing happened: the day is loaded as empty and counts as zero rows), no_change "
        "(nothing changed, for exports that carry only what changed: the day is loaded as empty and the "
        "stored rows stand).",
        example='"required"',
        default_note="each source's own, in reengage/defs/ingest/contracts.py",
        choices=MISSING_FILE_RULES,
        per_source=True,
    ),
    Setting(
        "volume.compare",
        "REENGAGE_VOLUME_COMPARE",
        "text",
        "recent_days",
        "Which earlier days a day's row count is compared with: recent_days (the loaded days before it) or "
        "same_weekday (the same weekday's earlier days, for exports whose size follows the weekday).",
        choices=VOLUME_COMPARE,
        per_source=True,
    ),
    Setting(
        "volume.lookback_days",
        "REENGAGE_VOLUME_LOOKBACK_DAYS",
        "int",
        7,
        "How many earlier days make the baseline (with same_weekday: how many earlier same weekdays).",
        per_source=True,
    ),
    Setting(
        "volume.min_history_days",
        "REENGAGE_VOLUME_MIN_HISTORY_DAYS",
        "int",
        3,
        "With fewer earlier days than this, the volume is not judged yet (only a missing or empty export).",
        per_source=True,
    ),
    Setting(
        "volume.min_ratio",
        "REENGAGE_VOLUME_MIN_RATIO",
        "float",
        0.5,
        "The fewest rows allowed, as a multiple of the baseline.",
        per_source=True,
    ),
    Setting(
        "volume.max_ratio",
        "REENGAGE_VOLUME_MAX_RATIO",
        "float",
        2.0,
        "The most rows allowed, as a multiple of the baseline.",
        per_source=True,
    ),
    Setting(
        "volume.statistic",
        "REENGAGE_VOLUME_STATISTIC",
        "text",
        "mean",
        "The baseline: the mean or the median of the earlier days' row counts.",
        choices=("mean", "median"),
        per_source=True,
    ),
    Setting(
        "volume.min_baseline_rows",
        "REENGAGE_VOLUME_MIN_BASELINE_ROWS",
        "int",
        50,
        "Below this baseline only emptiness is judged (small counts are noisy).",
        per_source=True,
    ),
    Setting(
        "volume.allow_empty",
        "REENGAGE_VOLUME_ALLOW_EMPTY",
        "bool",
        False,
        "Whether an export with zero rows passes.",
        per_source=True,
    ),
    Setting(
        "data_docs.retention_days",
        "REENGAGE_DATA_DOCS_RETENTION_DAYS",
        "int",
        30,
        "How many days a Great Expectations validation result and its Data Docs page are kept (the newest "
        "of each suite always stays; 0 keeps every one).",
        accepted="a whole number of days, 0 or more",
    ),
    Setting(
        "data_docs.url",
        "REENGAGE_DATA_DOCS_URL",
        "text",
        "http://127.0.0.1:3001",
        "The base URL the Data Docs site is served at (`reengage docs` serves it there; `reengage ui` "
        "starts it). Each quality check links its page under it, so the link opens from the Dagster UI. "
        '"" (in the settings file): file:// links, which a browser opens from a shell but not from the UI.',
    ),
    Setting(
        "delivery.sendgrid_host",
        "REENGAGE_SENDGRID_HOST",
        "text",
        "https://api.sendgrid.com",
        "The SendGrid API's base URL (the key, SENDGRID_API_KEY, is read from the environment only).",
    ),
    Setting(
        "delivery.local_sink_url",
        "REENGAGE_LOCAL_SINK_URL",
        "text",
        "",
        'A local SendGrid-compatible sink\'s base URL, for delivery without a key ("": none; then delivery '
        "needs SENDGRID_API_KEY).",
    ),
    Setting(
        "delivery.twilio_api_url",
        "REENGAGE_TWILIO_API_URL",
        "text",
        "https://api.twilio.com",
        "Twilio's API base URL for SMS (the account and its secret, TWILIO_ACCOUNT_SID with "
        "TWILIO_AUTH_TOKEN or TWILIO_API_KEY and TWILIO_API_SECRET, are read from the environment only).",
    ),
    Setting(
        "delivery.twilio_local_sink_url",
        "REENGAGE_TWILIO_LOCAL_SINK_URL",
        "text",
        "",
        'A local Twilio-compatible sink\'s base URL, for SMS without an account ("": none; then SMS needs '
        "the Twilio credentials and a Messaging Service).",
    ),
    Setting(
        "delivery.twilio_messaging_service_sid",
        "REENGAGE_TWILIO_MESSAGING_SERVICE_SID",
        "text",
        "",
        "The Messaging Service (MG...) texts are sent and scheduled through (Twilio schedules only through "
        'one); "" is allowed only with a local sink.',
    ),
    Setting(
        "delivery.twilio_status_callback_url",
        "REENGAGE_TWILIO_STATUS_CALLBACK_URL",
        "text",
        "",
        "Where Twilio posts each text's status; every text's URL carries its send_id (`?send_id=...`) so "
        'the sms_events export joins back to the ledger ("": no callback).',
    ),
    Setting(
        "delivery.sms_messages_per_second",
        "REENGAGE_SMS_MESSAGES_PER_SECOND",
        "float",
        10.0,
        "The most texts one SMS delivery hands to Twilio per second (the Messaging Service's throughput).",
    ),
    Setting(
        "delivery.sms_seconds_between_texts_to_one_number",
        "REENGAGE_SMS_SECONDS_BETWEEN_TEXTS_TO_ONE_NUMBER",
        "float",
        1.0,
        "The least time between two texts handed to Twilio for the same number (the per-recipient rate).",
    ),
    Setting(
        "delivery.sms_schedule_lead_seconds",
        "REENGAGE_SMS_SCHEDULE_LEAD_SECONDS",
        "int",
        360,
        "Every text is scheduled (SendAt) at least this far ahead, so an ambiguous send can be looked up "
        "and settled while it is still scheduled; Twilio needs more than 300.",
    ),
    Setting(
        "alerts.timeout_seconds",
        "REENGAGE_ALERT_TIMEOUT_SECONDS",
        "float",
        5.0,
        "How long an alert waits for the webhook (REENGAGE_ALERT_WEBHOOK_URL, environment only: it holds a "
        "token).",
    ),
    Setting(
        "alerts.dagster_url",
        "REENGAGE_DAGSTER_URL",
        "text",
        "",
        "The Dagster UI's base URL (e.g. https://dagster.example.com), to link a failed run in its alert.",
    ),
)
BY_KEY: dict[str, Setting] = {s.key: s for s in SETTINGS}
# Secrets, and variables other programs read themselves (libpq's, Java's): read from the environment
# only, never from a file that is easily copied or committed.
ENVIRONMENT_ONLY: dict[str, str] = {
    "SENDGRID_API_KEY": "the SendGrid API key",
    "TWILIO_ACCOUNT_SID": "the Twilio account (AC...) SMS is sent from",
    "TWILIO_AUTH_TOKEN, or TWILIO_API_KEY and TWILIO_API_SECRET": "the Twilio account's secret (or a key's)",
    "REENGAGE_PRIVACY_PEPPER": "the secret key of the forget list's hashes (docs/privacy.md)",
    "REENGAGE_ALERT_WEBHOOK_URL": "where alerts are posted (a Slack-compatible webhook; it holds a token)",
    "PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE": "the PostgreSQL warehouse (libpq's variables)",
    "JAVA_HOME": "the Java 17+ that runs dbt's Spark (else java on PATH; scripts/spark.sh env prints it)",
}


@dataclass(frozen=True)
class Resolved:
    value: Value
    origin: str  # "REENGAGE_TIMEZONE", "/srv/reengage.toml: schedule.timezone", or "default"


def resolve(
    key: str, *, source: str | None = None, source_default: Value = None, env: Mapping[str, str] | None = None
) -> Resolved:
    """A setting's value and where it came from: the first that is set of the source's environment
    variable, the environment variable, the source's key in the file, the key in the file, the source's
    own default (`source_default`, e.g. a contract's), the declared default."""
    setting = BY_KEY[key]
    env = os.environ if env is None else env
    per_source = source is not None and setting.per_source
    # The whole file is checked on every read, even of a setting the environment decides: a
    # misspelt key must not lie unnoticed until the day its variable is unset.
    path = settings_file(env)
    values = file_values(path) if path is not None else {}
    for name in ([setting.source_env(source)] if per_source else []) + [setting.env]:
        text = env.get(name, "")
        if text.strip():
            return Resolved(_from_text(setting, name, text.strip()), name)
    for file_key in ([setting.source_key(source)] if per_source else []) + [key]:
        if file_key in values:
            return Resolved(values[file_key], f"{path}: {file_key}")
    if per_source and source_default is not None:
        return Resolved(source_default, "default")
    return Resolved(setting.default, "default")


def value(key: str, **how: object) -> Value:
    """A setting's value (see `resolve`)."""
    return resolve(key, **how).value  # type: ignore[arg-type]


def settings_file(env: Mapping[str, str] | None = None) -> Path | None:
    """The settings file in use: $REENGAGE_SETTINGS (empty: none), else ./reengage.toml, else none."""
    env = os.environ if env is None else env
    named = env.get(SETTINGS_FILE_VAR)
    if named is not None:
        if not named.strip():
            return None
        path = Path(named.strip()).expanduser()
        if not path.is_file():
            raise SettingsError(
                f"{SETTINGS_FILE_VAR}={named!r} names no settings file (unset it, or run init)"
            )
        return path.resolve()
    here = Path.cwd() / SETTINGS_FILE_NAME
    return here.resolve() if here.is_file() else None


def file_values(path: Path) -> dict[str, Value]:
    """The file's settings by dotted key, checked; read again only when the file changed."""
    stat = path.stat()
    return _read_file(path, stat.st_mtime_ns, stat.st_size)


@cache
def _read_file(path: Path, _mtime_ns: int, _size: int) -> dict[str, Value]:
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise SettingsError(f"{path}: not a valid TOML file ({err})") from None
    values: dict[str, Value] = {}
    for file_key, raw in _leaves(document):
        setting = _setting_of(path, file_key)
        values[file_key] = _from_file(setting, path, file_key, raw)
    return values


def _leaves(table: Mapping[str, object], prefix: str = "") -> list[tuple[str, object]]:
    found: list[tuple[str, object]] = []
    for name, item in table.items():
        key = f"{prefix}{name}"
        if isinstance(item, dict) and key not in BY_KEY:
            found += _leaves(item, key + ".")
        else:
            found.append((key, item))
    return found


def _setting_of(path: Path, file_key: str) -> Setting:
    """The declared setting a key of the file sets, or a refusal naming what the key's table accepts."""
    if file_key in BY_KEY:
        return BY_KEY[file_key]
    table, _, name = file_key.rpartition(".")
    outer, _, source = table.rpartition(".")
    general = BY_KEY.get(f"{outer}.{name}" if outer else name)
    if general is not None and general.per_source and source in known_sources():
        return general
    accepted = sorted(
        {s.name for s in SETTINGS if s.table == table}
        | ({f"[{table}.<source>]" for s in SETTINGS if s.table == table and s.per_source})
        | (
            {s.name for s in SETTINGS if s.per_source and s.table == outer}
            if source in known_sources()
            else set()
        )
    )
    where = f"[{table}]" if table else "the top level"
    listed = ", ".join(accepted) if accepted else "no such table; tables: " + ", ".join(_tables())
    raise SettingsError(f"{path}: unknown setting {file_key!r} (accepted in {where}: {listed})")


def _tables() -> list[str]:
    plain = {f"[{s.table}]" for s in SETTINGS if s.table}
    per_source = {f"[{s.table}.{source}]" for s in SETTINGS if s.per_source for source in known_sources()}
    return sorted(plain | per_source)


def known_sources() -> tuple[str, ...]:
    # Imported here, not at the top: the contracts' registry imports this module for its paths.
    from reengage.defs.ingest.contracts import SOURCES

    return SOURCES


def _from_file(setting: Setting, path: Path, file_key: str, raw: object) -> Value:
    kind = setting.kind
    value: Value = None
    if kind in ("text", "path") and isinstance(raw, str):
        value = raw
        if kind == "path" and "://" not in raw:
            # A relative path in the file means the file's own folder, wherever the process runs.
            value = str((path.parent / Path(raw).expanduser()).resolve())
    elif kind == "int" and isinstance(raw, int) and not isinstance(raw, bool):
        value = raw
    elif kind == "float" and isinstance(raw, int | float) and not isinstance(raw, bool):
        value = float(raw)
    elif kind == "bool" and isinstance(raw, bool):
        value = raw
    elif kind == "date" and isinstance(raw, date | str) and not hasattr(raw, "hour"):
        value = _date(raw) if isinstance(raw, str) else raw
    if value is None or (setting.choices and value not in setting.choices):
        raise SettingsError(f"{path}: {file_key} = {raw!r} is not {setting.describe_accepted()}")
    return value


def _from_text(setting: Setting, name: str, text: str) -> Value:
    kind = setting.kind
    value: Value = None
    try:
        if kind in ("text", "path"):
            value = text.lower() if setting.choices else text
        elif kind == "int":
            value = int(text)
        elif kind == "float":
            value = float(text)
        elif kind == "bool" and text.lower() in TRUE_WORDS + FALSE_WORDS:
            value = text.lower() in TRUE_WORDS
        elif kind == "date":
            value = _date(text)
    except ValueError:
        value = None
    if value is None or (setting.choices and value not in setting.choices):
        raise SettingsError(f"{name}={text!r} is not {setting.describe_accepted()}")
    return value


def _date(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def project_folder(env: Mapping[str, str] | None = None) -> Path:
    """Where the user's own files are unless a setting says otherwise: the settings file's folder (the
    working directory without one); in a source checkout, the repository."""
    if not INSTALLED:
        return REPO_ROOT
    found = settings_file(env)
    return found.parent if found is not None else Path.cwd()


def home() -> Path:
    found = value("home")
    return Path(found or project_folder() / ".data").resolve()


def campaigns_dir(settings_path: Path | None = None) -> Path:
    """The campaign folder; with `settings_path`, as if that settings file were in use (init's new one)."""
    env = None if settings_path is None else {**os.environ, SETTINGS_FILE_VAR: str(settings_path)}
    found = value("campaigns", env=env)
    return Path(found or project_folder(env) / "campaigns").resolve()


def warehouse_path() -> Path:
    return Path(value("warehouse") or home() / "warehouse.duckdb")


# The dbt target each warehouse kind builds with, unless dbt_target (REENGAGE_DBT_TARGET) names another.
WAREHOUSE_KINDS = BY_KEY["warehouse_kind"].choices
DBT_TARGET_OF_KIND = {"duckdb": "dev", "postgres": "postgres", "spark": "spark"}


def warehouse_kind() -> str:
    kind = resolve("warehouse_kind")
    target = resolve("dbt_target")
    other = dbt_target_kind()
    if other != kind.value:
        # dbt would build one warehouse while the Python stages read and write the other.
        raise SettingsError(
            f"{target.origin}={target.value} builds the {other} warehouse but {kind.origin} is "
            f"{kind.value}; unset {target.origin} or make them agree"
        )
    return str(kind.value)


def dbt_target() -> str:
    return str(value("dbt_target") or DBT_TARGET_OF_KIND[warehouse_kind()])


def dbt_target_kind() -> str:
    """The kind of warehouse dbt's target builds: warehouse_kind's, unless dbt_target names another kind's.

    What decides which dbt runs and what its profile reads. It never refuses a disagreement with
    warehouse_kind: that is refused when a run opens the warehouse (warehouse_kind()), not when the
    code location loads and parses the project.
    """
    target = str(value("dbt_target") or "")
    return {v: k for k, v in DBT_TARGET_OF_KIND.items()}.get(target, str(value("warehouse_kind")))


def spark_home() -> Path:
    """The Spark warehouse's folder: tables, metastore and raw Parquet (reengage/spark/)."""
    return Path(value("spark.home") or home() / "spark").resolve()


def spark_master() -> str:
    return str(value("spark.master"))


def spark_driver_memory() -> str:
    return str(value("spark.driver_memory"))


def spark_threads() -> int:
    return _whole_number_from("spark.threads", 1)


def spark_dbt() -> Path | None:
    """The dbt of the Spark environment (scripts/spark.sh), or None when the setting is unset."""
    found = value("spark.dbt")
    return Path(str(found)).expanduser() if found else None


def java_home() -> str | None:
    """JAVA_HOME, the Java runtime dbt's Spark runs on: the machine's, so the environment's only."""
    return os.environ.get("JAVA_HOME") or None


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
    return str(value("landing") or home() / "landing")


LANDING_FOLLOW_OUTSIDE_LINKS = BY_KEY["landing_follow_outside_links"].env


def landing_follows_outside_links() -> bool:
    return bool(value("landing_follow_outside_links"))


def first_day() -> Resolved:
    """The first day of history when set (value None otherwise), and where it was set."""
    return resolve("first_day")


def data_docs_dir() -> Path:
    """The Data Docs root: the HTML site and the validation results it is built from."""
    return home() / "data_docs"


def data_docs_retention_days() -> int:
    return _whole_number_from("data_docs.retention_days", 0)


def _whole_number_from(key: str, minimum: int) -> int:
    """A whole-number setting; one below `minimum` is refused, naming where it was set."""
    found = resolve(key)
    if int(found.value) < minimum:  # type: ignore[arg-type]
        raise SettingsError(f"{found.origin}={found.value!r} is not {BY_KEY[key].describe_accepted()}")
    return int(found.value)  # type: ignore[arg-type]


def data_docs_url() -> str:
    """The Data Docs site's base URL, without a trailing slash ("" when pages are linked as files)."""
    return str(value("data_docs.url")).strip().rstrip("/")


def ledger_path() -> Path:
    return home() / "send_ledger.sqlite"


# Where delivery sends: the real SendGrid API unless REENGAGE_SENDGRID_HOST names another base URL (with
# SENDGRID_API_KEY), or REENGAGE_LOCAL_SINK_URL names a local SendGrid-compatible sink (no key needed).
# Nothing else ever sends to a sink: production refuses to deliver without a key or this explicit setting.
SENDGRID_API = str(BY_KEY["delivery.sendgrid_host"].default)
SENDGRID_HOST = BY_KEY["delivery.sendgrid_host"].env
LOCAL_SINK_URL = BY_KEY["delivery.local_sink_url"].env


def sendgrid_host() -> str:
    return str(value("delivery.sendgrid_host"))


def local_sink_url() -> str:
    """The local sink's base URL, or "" when none is named (then delivery needs a real API key)."""
    return str(value("delivery.local_sink_url"))


def privacy_pepper() -> str | None:
    """The secret key of the forget list's hashes (REENGAGE_PRIVACY_PEPPER), None when unset.

    There is no default: every stored key depends on it, so a built-in value would let a
    deployment that forgot the setting quietly use a key everybody knows (docs/privacy.md).
    Environment only, like every secret (ENVIRONMENT_ONLY).
    """
    found = os.environ.get("REENGAGE_PRIVACY_PEPPER", "")
    return found if found.strip() else None


def model_dir() -> Path:
    return home() / "model_registry"


def truth_path() -> Path:
    return home() / "truth" / "user_truth.parquet"


# Schedules, the exports sensor and alerts. Each is read when it is used, so a deployment's
# settings (or a test's) apply without a restart of anything but the code location.


def scoring_hour() -> int:
    """UTC hour of the daily scoring schedule (default 7)."""
    return int(value("schedule.scoring_hour"))  # type: ignore[arg-type]


def retrain_cron() -> str:
    """When the models are refitted (UTC; default Monday 05:00)."""
    return str(value("schedule.retrain_cron"))


def sensor_lookback_days() -> int:
    """Days before today whose exports the landing sensor still watches."""
    return int(value("sensor.lookback_days"))  # type: ignore[arg-type]


def missing_file_grace_minutes() -> float:
    """How long the sensor waits for the exports a day may lack once the other exports settled."""
    return float(value("sensor.grace_minutes"))  # type: ignore[arg-type]


def sensor_interval_seconds() -> int:
    return int(value("sensor.interval_seconds"))  # type: ignore[arg-type]


ALERT_WEBHOOK_URL = "REENGAGE_ALERT_WEBHOOK_URL"
ALERT_TIMEOUT_SECONDS = BY_KEY["alerts.timeout_seconds"].env
DAGSTER_URL = BY_KEY["alerts.dagster_url"].env


def alert_webhook_url() -> str:
    """Where alerts are posted (a Slack-compatible incoming webhook); "" when none. It holds a token, so
    it is read from the environment only (ENVIRONMENT_ONLY)."""
    return os.environ.get(ALERT_WEBHOOK_URL, "").strip()


def alert_timeout_seconds() -> float:
    return float(value("alerts.timeout_seconds"))  # type: ignore[arg-type]


def dagster_home() -> Path:
    """Where Dagster keeps runs for the UI: DAGSTER_HOME, else the home's `dagster_home` (where
    `reengage ui`, the command line and the demo keep them)."""
    return Path(os.environ.get("DAGSTER_HOME") or home() / "dagster_home")


def dagster_url() -> str:
    """The UI's base URL (e.g. https://dagster.example.com), to link a failed run in its alert."""
    return str(value("alerts.dagster_url")).rstrip("/")


SENDGRID_API_KEY = "SENDGRID_API_KEY"


def sendgrid_api_key() -> str:
    """The SendGrid key, read from the environment only and never logged."""
    return os.environ.get(SENDGRID_API_KEY, "")


TWILIO_ACCOUNT_SID = "TWILIO_ACCOUNT_SID"
TWILIO_AUTH_TOKEN = "TWILIO_AUTH_TOKEN"
TWILIO_API_KEY = "TWILIO_API_KEY"
TWILIO_API_SECRET = "TWILIO_API_SECRET"


@dataclass(frozen=True)
class TwilioCredentials:
    """Who the SMS sender is at Twilio; read from the environment only, never logged (no repr of secrets)."""

    account_sid: str
    username: str  # the account SID with its auth token, or an API key SID (SK...) with its secret
    secret: str = field(repr=False)


def twilio_credentials() -> TwilioCredentials | None:
    """The account and its secret (auth token, or API key and secret), None when not all are set."""
    account = os.environ.get(TWILIO_ACCOUNT_SID, "").strip()
    api_key = os.environ.get(TWILIO_API_KEY, "").strip()
    api_secret = os.environ.get(TWILIO_API_SECRET, "")
    token = os.environ.get(TWILIO_AUTH_TOKEN, "")
    if not account:
        return None
    if api_key and api_secret:
        return TwilioCredentials(account, api_key, api_secret)
    if token:
        return TwilioCredentials(account, account, token)
    return None


def twilio_api_url() -> str:
    return str(value("delivery.twilio_api_url"))


def twilio_local_sink_url() -> str:
    """The local Twilio sink's base URL, or "" when none is named (then SMS needs real credentials)."""
    return str(value("delivery.twilio_local_sink_url"))


def twilio_messaging_service_sid() -> str:
    return str(value("delivery.twilio_messaging_service_sid"))


def twilio_status_callback_url() -> str:
    return str(value("delivery.twilio_status_callback_url"))


def sms_messages_per_second() -> float:
    return float(value("delivery.sms_messages_per_second"))  # type: ignore[arg-type]


def sms_seconds_between_texts_to_one_number() -> float:
    return float(value("delivery.sms_seconds_between_texts_to_one_number"))  # type: ignore[arg-type]


def sms_schedule_lead_seconds() -> int:
    return int(value("delivery.sms_schedule_lead_seconds"))  # type: ignore[arg-type]
