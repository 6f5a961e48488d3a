"""Every test runs against its own REENGAGE_HOME so nothing touches the developer's .data/."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    home = tmp_path_factory.mktemp("reengage_home")
    monkeypatch.setenv("REENGAGE_HOME", str(home))
    for name in (
        "REENGAGE_WAREHOUSE",
        "REENGAGE_LANDING",
        "SENDGRID_API_KEY",
        "REENGAGE_SENDGRID_HOST",
        # a developer's shell pointed at PostgreSQL must not move the DuckDB tests there
        "REENGAGE_WAREHOUSE_KIND",
        "REENGAGE_DBT_TARGET",
    ):
        monkeypatch.delenv(name, raising=False)
    return home
