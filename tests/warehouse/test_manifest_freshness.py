"""When is the dbt manifest stale: only the project's own files count, never dbt's outputs."""

import os
from pathlib import Path
from types import SimpleNamespace

from reengage.defs.warehouse.project import _manifest_is_current


def _touch(path: Path, mtime: float) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("x")
    os.utime(path, (mtime, mtime))
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
