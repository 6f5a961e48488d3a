"""The Dagster code location: every domain folder under defs/ registers its own definitions."""

from pathlib import Path

import dagster as dg
from dagster_shared.record import replace  # what Definitions.map_asset_specs uses (a preview API)

# Who answers for a stage, shown in the UI and the README's catalog. Teams, never people's addresses.
# An asset's own `owners=` (or a dbt model's `meta: {dagster: {owners: [...]}}`) wins over its group's.
OWNERS_BY_GROUP = {
    "ingest": "team:data-engineering",
    "warehouse": "team:analytics",
    "warehouse_internals": "team:analytics",  # the dbt incremental state, apart from the business lineage
    "quality": "team:data-engineering",
    "scoring": "team:data-science",
    "interventions": "team:lifecycle-marketing",
    "delivery": "team:data-engineering",
    "measurement": "team:analytics",
    "privacy": "team:data-engineering",
}


def with_group_owner(spec: dg.AssetSpec) -> dg.AssetSpec:
    if spec.owners or spec.group_name not in OWNERS_BY_GROUP:
        return spec
    return spec.replace_attributes(owners=[OWNERS_BY_GROUP[spec.group_name]])


def build_definitions() -> dg.Definitions:
    defs = dg.load_from_defs_folder(path_within_project=Path(__file__).parent)
    # A module that imports another's asset lists it again; map each asset once, or the copies collide.
    assets = list({id(asset): asset for asset in defs.assets or []}.values())
    return replace(defs, assets=dg.map_asset_specs(with_group_owner, assets))


defs = dg.definitions(build_definitions)
