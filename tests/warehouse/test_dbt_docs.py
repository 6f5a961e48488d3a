"""The dbt docs an analyst reads: who owns each model, which Python stages read which models
(exposures), an overview that introduces the models, and the README's table of them."""

from __future__ import annotations

import re

from reengage import settings
from reengage.definitions import OWNERS_BY_GROUP
from reengage.defs.warehouse import manifest

PYTHON_FOLDERS = ("reengage", "models")
# How Python names a dbt model: a schema-qualified table, or the Dagster key of the model.
MODEL_REFERENCE = re.compile(
    r"""\b(?:marts|intermediate|staging)\.([a-z_]+)\b|model_key\(\s*["']([a-z_]+)["']"""
)


def _models(manifest_: dict) -> dict[str, dict]:
    return {node["name"]: node for node in manifest_["nodes"].values() if node["resource_type"] == "model"}


def _read_by_python(models: set[str]) -> dict[str, set[str]]:
    """Model name -> the Python files (outside the dbt wiring) that read it."""
    readers: dict[str, set[str]] = {}
    for folder in PYTHON_FOLDERS:
        for path in sorted((settings.REPO_ROOT / folder).rglob("*.py")):
            relative = path.relative_to(settings.REPO_ROOT)
            if relative.parts[:3] == ("reengage", "defs", "warehouse"):
                continue  # the build itself, not a consumer
            for match in MODEL_REFERENCE.finditer(path.read_text()):
                name = match.group(1) or match.group(2)
                if name in models:
                    readers.setdefault(name, set()).add(str(relative))
    return readers


def test_every_model_python_reads_is_in_an_exposure_with_an_owner() -> None:
    # Guards the lineage analysts see in dbt docs: the Python stages reading the marts appeared
    # nowhere, so a change to a mart showed no consumer; a new reader without an exposure fails here.
    manifest_ = manifest.load_manifest()
    models = _models(manifest_)
    readers = _read_by_python(set(models))
    assert {"fct_user_features", "fct_email_suppressions", "fct_user_responses"} <= set(readers)
    exposed: set[str] = set()
    for exposure in manifest_["exposures"].values():
        assert exposure["type"] in ("application", "ml"), exposure["name"]
        assert exposure["owner"].get("name") in OWNERS_BY_GROUP.values(), exposure["name"]
        assert exposure["description"].strip(), exposure["name"]
        exposed |= {manifest_["nodes"][uid]["name"] for uid in exposure["depends_on"]["nodes"]}
    missing = {name: sorted(files) for name, files in readers.items() if name not in exposed}
    assert not missing, f"read by Python but in no exposure (dbt_project/models/exposures.yml): {missing}"
    marts = {name for name, node in models.items() if node["fqn"][1] == "marts"}
    assert {name for name in readers if name in marts} <= exposed


def test_every_model_has_the_owner_dagster_shows_for_it_and_its_layer_as_a_tag() -> None:
    # Guards empty owners and tags in dbt docs, and an owner there that differs from the team the
    # Dagster UI names for the same asset (reengage/definitions.py, by group).
    for name, node in _models(manifest.load_manifest()).items():
        config = node["config"]
        group = config.get("meta", {}).get("dagster", {}).get("group", "warehouse")
        assert config.get("meta", {}).get("owner") == OWNERS_BY_GROUP[group], name
        assert node["fqn"][1] in config.get("tags", []), name


def test_the_overview_introduces_every_mart_and_names_only_models_that_exist() -> None:
    # Guards an overview that left out the cohort and funnel marts and named what is not there.
    manifest_ = manifest.load_manifest()
    models = _models(manifest_)
    overview = (settings.DBT_PROJECT_DIR / "models" / "overview.md").read_text()
    marts = sorted(name for name, node in models.items() if node["fqn"][1] == "marts")
    assert [name for name in marts if f"`{name}`" not in overview] == []
    named = set(re.findall(r"`((?:stg|int|fct|dim)_[a-z_]+)`", overview))
    assert named - set(models) == set()


def test_the_readme_model_tables_are_well_formed_and_list_every_model_and_seed() -> None:
    # Guards the dbt README's table of models: a malformed header rendered it as text, and a model
    # added without a row is missing from the one place that states every grain side by side.
    manifest_ = manifest.load_manifest()
    text = (settings.DBT_PROJECT_DIR / "README.md").read_text()
    tables = re.findall(r"^\| model \| grain \|\n\|---\|---\|\n((?:\|.*\|\n)+)", text, flags=re.MULTILINE)
    assert tables, "no | model | grain | table with a |---|---| line under its header"
    listed = {re.match(r"\| `([a-z_]+)`", row).group(1) for table in tables for row in table.splitlines()}
    seeds = {node["name"] for node in manifest_["nodes"].values() if node["resource_type"] == "seed"}
    assert listed == set(_models(manifest_)) | seeds
