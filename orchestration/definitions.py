"""The Dagster code location: every domain folder under defs/ registers its own definitions."""

from pathlib import Path

import dagster as dg


def build_definitions() -> dg.Definitions:
    return dg.load_from_defs_folder(path_within_project=Path(__file__).parent)


defs = dg.definitions(build_definitions)
