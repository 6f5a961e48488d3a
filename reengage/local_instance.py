"""The local Dagster instance: where the UI, the command line and the demo keep their runs.

One folder, `settings.dagster_home()`, so a run started from the command line or the demo shows in
the UI. Its `dagster.yaml` starts as `dagster.local.yaml` (shipped beside this module: one run at a
time on the DuckDB file, one per run date, one delivering run, no welcome pop-up); a folder that
already has one keeps it. `workspace.yaml` there names the code location the UI loads, the same
name whether the product is installed or a checkout (`definitions.CODE_LOCATION`).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from reengage import settings
from reengage.definitions import CODE_LOCATION

INSTANCE_TEMPLATE = Path(__file__).with_name("dagster.local.yaml")


def local_dagster_home() -> Path:
    """The instance folder, created with the local instance config when it has none."""
    home = settings.dagster_home()
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        shutil.copyfile(INSTANCE_TEMPLATE, config)
    return home


def write_workspace(working_directory: Path) -> Path:
    """The UI's workspace file in the instance folder: the product's definitions, loaded from
    `working_directory` (where the settings file is found)."""
    workspace = local_dagster_home() / "workspace.yaml"
    location = {
        "module_name": "reengage.definitions",
        "location_name": CODE_LOCATION,
        "working_directory": str(working_directory),
    }
    workspace.write_text(yaml.safe_dump({"load_from": [{"python_module": location}]}, sort_keys=False))
    return workspace
