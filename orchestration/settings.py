"""Where the pipeline keeps its files, read from the environment.

Every stage asks this module instead of hard-coding paths, so a test can point
the whole pipeline at a temporary folder by setting `REENGAGE_HOME`.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
EXPECTATIONS_DIR = REPO_ROOT / "expectations"
CAMPAIGNS_DIR = REPO_ROOT / "campaigns"


def home() -> Path:
    return Path(os.environ.get("REENGAGE_HOME", REPO_ROOT / ".data")).resolve()


def warehouse_path() -> Path:
    return Path(os.environ.get("REENGAGE_WAREHOUSE", home() / "warehouse.duckdb"))


def landing_dir() -> str:
    """A local path or any fsspec URL."""
    return os.environ.get("REENGAGE_LANDING", str(home() / "landing"))


def ledger_path() -> Path:
    return home() / "send_ledger.sqlite"


def sink_store_path() -> Path:
    return home() / "sink.sqlite"


def model_dir() -> Path:
    return home() / "model_registry"


def truth_path() -> Path:
    return home() / "truth" / "user_truth.parquet"
