"""Registers the `spark` marker for runs that collect only this folder."""

from __future__ import annotations

import pytest

from .spark_env import MARKER


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER)
