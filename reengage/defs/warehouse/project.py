"""The dbt project: where it lives and its manifest, parsed when the files are newer than it."""

from __future__ import annotations

import fcntl
import os
import subprocess
from pathlib import Path

from dagster_dbt import DbtProject

from reengage import settings
from reengage.defs.warehouse.dbt_cli import dbt_environment, dbt_executable

# Where `dbt parse` writes the manifest (and its log): the project's own target/ in a source checkout; an
# installed package's files are not the pipeline's to write (and one install serves every home), so
# there it is the home's. Each build has its own folder under the home either way (parse_state.py).
PARSE_TARGET = settings.home() / "dbt" / "target" if settings.INSTALLED else Path("target")
dbt_project = DbtProject(
    project_dir=settings.DBT_PROJECT_DIR, profiles_dir=settings.DBT_PROJECT_DIR, target_path=PARSE_TARGET
)

# Where dbt finds the warehouse file (dbt_project/profiles.yml).
WAREHOUSE_ENV = "REENGAGE_WAREHOUSE"


def ensure_manifest(project: DbtProject) -> Path:
    """Parse the project when its manifest is missing or older than its files, so a fresh clone loads.

    Under a file lock: processes starting together (parallel test workers, the UI beside a CLI run)
    parse once, and none reads a manifest another is still writing.
    """
    manifest = project.manifest_path
    manifest.parent.mkdir(parents=True, exist_ok=True)
    with open(manifest.parent / ".parse.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not _manifest_is_current(project, manifest):
            _parse(project)
    return manifest


# What dbt reads to build its manifest. Everything else under the project (its target folder of
# compiled SQL from every run, installed packages, logs: tens of thousands of files) is not walked,
# since this check runs each time a stage reads the manifest.
PROJECT_FILE_SUFFIXES = (".sql", ".yml", ".csv")
NOT_PROJECT_FILES = frozenset({"target", "dbt_packages", "logs"})


# Beside the manifest: the dbt target it was parsed for. A test's unique id holds a hash of its
# column as the adapter quotes it, so a manifest parsed for another kind names some nodes differently
# from the build's events (a checkout moved from DuckDB to Spark failed its first build on one).
PARSED_FOR = "parsed_for_target"


def _manifest_is_current(project: DbtProject, manifest: Path) -> bool:
    if not manifest.exists():
        return False
    parsed_for = manifest.parent / PARSED_FOR
    if not parsed_for.exists() or parsed_for.read_text().strip() != settings.dbt_target():
        return False
    built = manifest.stat().st_mtime
    for folder, subfolders, files in os.walk(project.project_dir):
        subfolders[:] = [name for name in subfolders if name not in NOT_PROJECT_FILES]
        for name in files:
            if name.endswith(PROJECT_FILE_SUFFIXES) and os.stat(os.path.join(folder, name)).st_mtime > built:
                return False
    return True


def _parse(project: DbtProject) -> None:
    # dbt's profile needs a warehouse path (and on Spark its settings) to parse; nothing is opened and
    # no Spark starts. Only the child sees them.
    env = {
        **os.environ,
        WAREHOUSE_ENV: str(settings.warehouse_path()),
        **dbt_environment(runs_models=False),
    }
    subprocess.run(
        [
            dbt_executable(),
            "parse",
            "--quiet",
            "--project-dir",
            str(project.project_dir),
            "--profiles-dir",
            str(project.profiles_dir),
            "--target-path",
            str(project.manifest_path.parent),
            "--log-path",
            str(project.manifest_path.parent),
        ],
        check=True,
        cwd=project.project_dir,
        env=env,
    )
    (project.manifest_path.parent / PARSED_FOR).write_text(settings.dbt_target())
