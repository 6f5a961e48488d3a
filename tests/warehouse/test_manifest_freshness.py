"""When is the dbt manifest stale: only the project's own files count, never dbt's outputs."""

import os
from pathlib import Path
from types import SimpleNamespace

import pytest

from reengage.defs.warehouse.project import PARSED_FOR, _manifest_is_current


def _touch(path: Path, mtime: float) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("x")
    os.utime(path, (mtime, mtime))
    if path.name == "manifest.json":
        (path.parent / PARSED_FOR).write_text("dev")  # parsed for the DuckDB file's target
    return path


def test_a_model_edited_after_the_manifest_makes_it_stale(tmp_path):
    # Guards the fresh-clone and edit-then-run paths: a stale manifest would run yesterday's SQL.
    project = SimpleNamespace(project_dir=tmp_path)
    manifest = _touch(tmp_path / "target" / "manifest.json", 2_000)
    _touch(tmp_path / "models" / "marts" / "fct_x.sql", 1_000)
    assert _manifest_is_current(project, manifest)
    _touch(tmp_path / "models" / "marts" / "fct_x.yml", 3_000)
    assert not _manifest_is_current(project, manifest)


def test_dbt_outputs_newer_than_the_manifest_do_not_make_it_stale(tmp_path):
    # Guards against re-parsing after every build: each run writes compiled SQL under target/
    # (and logs), newer than the manifest, and the check must not walk or count them.
    project = SimpleNamespace(project_dir=tmp_path)
    manifest = _touch(tmp_path / "target" / "manifest.json", 2_000)
    _touch(tmp_path / "seeds" / "event_catalog.csv", 1_000)
    for folder in ("target/warehouse_models-1/compiled", "logs", "dbt_packages/pkg/models"):
        _touch(tmp_path / folder / "model.sql", 3_000)
    assert _manifest_is_current(project, manifest)


def test_a_missing_manifest_is_stale(tmp_path):
    assert not _manifest_is_current(
        SimpleNamespace(project_dir=tmp_path), tmp_path / "target" / "manifest.json"
    )


def test_a_manifest_parsed_for_another_warehouse_kind_is_stale(tmp_path, monkeypatch: pytest.MonkeyPatch):
    # Guards a home moved from DuckDB to Spark: a test's unique id hashes its column as the adapter
    # quotes it, so the other kind's manifest names nodes the build's events do not, and the build fails.
    project = SimpleNamespace(project_dir=tmp_path)
    manifest = _touch(tmp_path / "target" / "manifest.json", 2_000)
    assert _manifest_is_current(project, manifest)
    monkeypatch.setenv("REENGAGE_WAREHOUSE_KIND", "spark")
    assert not _manifest_is_current(project, manifest)
    (manifest.parent / PARSED_FOR).unlink()  # parsed before the target was recorded: parse again
    monkeypatch.delenv("REENGAGE_WAREHOUSE_KIND")
    assert not _manifest_is_current(project, manifest)
