"""Every test runs against its own REENGAGE_HOME so nothing touches the developer's .data/."""

from __future__ import annotations

import functools
import importlib.util
import os
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from reengage_dev.sink import SinkHandle

ROOT = Path(__file__).resolve().parents[1]

# The run-date partitions start on the first day of history, read once when the code location is
# imported (reengage/partitions.py): before any test has landed its world's exports. The suite
# names its first day, as a deployment whose history lands after it started would; tests of the
# first day itself start a process of their own.
os.environ["REENGAGE_FIRST_DAY"] = "2024-01-01"
# No settings file a developer keeps in the working directory reaches a test (an empty
# REENGAGE_SETTINGS means none); a test of the file names its own.
os.environ["REENGAGE_SETTINGS"] = ""


def load_benchmark(filename: str) -> ModuleType:
    """A script of benchmarks/ as a module, so tests can read its report code without running it."""
    spec = importlib.util.spec_from_file_location(Path(filename).stem, ROOT / "benchmarks" / filename)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while building
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def benchmark_module() -> Callable[[str], ModuleType]:
    """`load_benchmark`, for test modules that cannot import from this file."""
    return load_benchmark


# Modules that must share one pytest-xdist worker, found by what their source names: the
# PostgreSQL modules start and stop one server (another worker would find it stopped under it),
# the Spark modules run one Spark process at a time (each takes a JVM of a few GB), and the users
# of the session-wide warehouse build would each build it again elsewhere.
SHARED_WORKER_GROUPS = {
    "pytest.mark.postgres": "postgres",
    "pytest.mark.spark": "spark",
    "warehouse_built_by_dagster": "warehouse_build",
}
# The suite's forget-list pepper: production code has no default, so the suite sets one, for every
# test and every process a test starts (a developer's own pepper never reaches a test warehouse).
TEST_PEPPER = "reengage-test-pepper-not-a-secret"


@functools.cache
def worker_group(module: str) -> str:
    source = (ROOT / module).read_text()
    return next((group for name, group in SHARED_WORKER_GROUPS.items() if name in source), module)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Under pytest-xdist (dev.py test) a worker takes whole modules, so a module fixture such as a
    real daily run is built once; the groups above go to one worker each."""
    if config.getvalue("dist") == "each":
        return None  # every test on every worker: nothing to group
    from xdist.scheduler import LoadScopeScheduling

    class ModuleGroupScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return worker_group(nodeid.split("::", 1)[0])

    return ModuleGroupScheduling(config, log)


@pytest.fixture(autouse=True)
def default_sigterm() -> None:
    """Every process a test starts stops on SIGTERM, as a user's does: a test worker can be left
    ignoring it by what ran before, children inherit an ignored signal, and a server's teardown
    then waited its whole 30-second grace for the kill."""
    if signal.getsignal(signal.SIGTERM) is signal.SIG_IGN:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


@pytest.fixture(scope="session", autouse=True)
def privacy_pepper() -> Iterator[str]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("REENGAGE_PRIVACY_PEPPER", TEST_PEPPER)
        yield TEST_PEPPER


@pytest.fixture(scope="session", autouse=True)
def no_outside_sink() -> Iterator[None]:
    """No test delivers to a sink a developer's shell names; a test names its own (`local_sink`).

    Session-wide, not per test: a module's world keeps its sink named for all of its tests."""
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("REENGAGE_LOCAL_SINK_URL", raising=False)
        patch.delenv("REENGAGE_TWILIO_LOCAL_SINK_URL", raising=False)
        yield


@pytest.fixture
def local_sink(isolated_home: Path) -> Iterator[SinkHandle]:
    """A local sink storing into the test's home (sink.sqlite), named to delivery while the test runs,
    and a local Twilio sink beside it for the texts (an example campaign texts)."""
    from reengage_dev.sink import serving_local_sink
    from reengage_dev.twilio_sink import serving_local_twilio_sink

    with serving_local_sink() as sink, serving_local_twilio_sink():
        yield sink


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    home = tmp_path_factory.mktemp("reengage_home")
    monkeypatch.setenv("REENGAGE_HOME", str(home))
    for name in (
        "REENGAGE_WAREHOUSE",
        "REENGAGE_LANDING",
        "REENGAGE_LANDING_FOLLOW_OUTSIDE_LINKS",
        "SENDGRID_API_KEY",
        "REENGAGE_SENDGRID_HOST",
        "TWILIO_ACCOUNT_SID",
        "TWILIO_AUTH_TOKEN",
        "TWILIO_API_KEY",
        "TWILIO_API_SECRET",
        "REENGAGE_TWILIO_API_URL",
        "REENGAGE_TWILIO_MESSAGING_SERVICE_SID",
        # a developer's shell pointed at PostgreSQL must not move the DuckDB tests there
        "REENGAGE_WAREHOUSE_KIND",
        "REENGAGE_DBT_TARGET",
        # nor at a Spark home or cluster the Spark tests would build in, or another checkout's dbt-spark
        "REENGAGE_SPARK_HOME",
        "REENGAGE_SPARK_MASTER",
        "REENGAGE_SPARK_DRIVER_MEMORY",
        "REENGAGE_SPARK_THREADS",
        "REENGAGE_SPARK_DBT",
        # dev.py sets it for the developer's own UI: a command under test keeps its runs in the home
        "DAGSTER_HOME",
    ):
        monkeypatch.delenv(name, raising=False)
    return home


@pytest.fixture(scope="session")
def warehouse_built_by_dagster(tmp_path_factory: pytest.TempPathFactory):
    """The raw test warehouse with every dbt model materialized through Dagster, once per session:
    (the run's result, the DuckDB file). Tests that change the file work on a copy."""
    from tests.warehouse.dagster_run import materialize_warehouse_models  # dagster only when asked for
    from tests.warehouse.raw_world import create_raw_warehouse

    home = tmp_path_factory.mktemp("warehouse_built_by_dagster")
    warehouse = home / "warehouse.duckdb"
    create_raw_warehouse(warehouse)
    result = materialize_warehouse_models(home, warehouse)
    assert result.success
    return result, warehouse
