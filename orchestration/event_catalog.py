"""The product's event vocabulary as Python reads it: the dbt seed `dbt_project/seeds/event_catalog.csv`.

The seed is the one definition (analysts edit it; dbt joins it onto every event). Ingest reads it
to report event names nobody has described yet.
"""

from __future__ import annotations

import csv

from orchestration import settings

SEED = settings.DBT_PROJECT_DIR / "seeds" / "event_catalog.csv"


def _rows() -> list[dict[str, str]]:
    # Read on every call (a few lines), so an edited seed counts without a restart.
    with SEED.open(newline="") as handle:
        return list(csv.DictReader(handle))


def known_event_names() -> frozenset[str]:
    return frozenset(row["event_name"] for row in _rows())
