"""The code location loads, and a user finds every stage in the UI with a description."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import dagster as dg
import yaml

from reengage.definitions import CODE_LOCATION, OWNERS_BY_GROUP, build_definitions
from reengage.defs.warehouse.spark_stage_tables import STAGE_TABLES_KEY

ROOT = Path(__file__).resolve().parents[1]

# Every stage group is declared once, with the team that answers for it.
STAGE_GROUPS = set(OWNERS_BY_GROUP)


def test_definitions_load_with_the_daily_job_and_schedule() -> None:
    defs = build_definitions()
    job = defs.resolve_job_def("daily_reengagement")
    assert job.partitions_def is not None
    assert defs.resolve_schedule_def("daily_reengagement_schedule").job_name == "daily_reengagement"


def test_only_a_spark_warehouse_publishes_the_stages_tables_to_spark() -> None:
    # On duckdb (the suite's kind) there is no Spark home: the step would have nothing to do.
    assert STAGE_TABLES_KEY not in build_definitions().resolve_asset_graph().get_all_asset_keys()


def test_every_asset_sits_in_a_stage_group_and_has_a_description() -> None:
    graph = build_definitions().resolve_asset_graph()
    groups = set()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        if not node.is_materializable:
            continue
        groups.add(node.group_name)
        assert node.group_name in STAGE_GROUPS, f"{key.to_user_string()} is in group {node.group_name!r}"
        assert node.description, f"{key.to_user_string()} has no description"
    assert groups >= STAGE_GROUPS


def test_the_raw_tables_are_gated_by_blocking_quality_checks() -> None:
    graph = build_definitions().resolve_asset_graph()
    checked = {spec.asset_key for node in graph.assets_defs for spec in node.check_specs if spec.blocking}
    for table in ("customers", "events", "email_events"):
        assert dg.AssetKey(["raw", table]) in checked


def test_the_responses_mart_is_built_from_the_exports_before_the_policy_reads_it() -> None:
    # Guards the pause after a response: it read a table nothing built. The mart is now a dbt model
    # upstream of the intervention list, fed by the raw exports only: reading a table the policy or
    # delivery writes would make a cycle (and the definitions would not load at all).
    from reengage.defs.warehouse.assets import model_key

    graph = build_definitions().resolve_asset_graph()
    responses = model_key("fct_user_responses")
    assert responses in graph.get(dg.AssetKey(["intervention_list"])).parent_keys
    upstream = graph.upstream_key_iterator(responses)
    assert {dg.AssetKey(["raw", s]) for s in ("customers", "events", "email_events")} <= set(upstream)
    assert not {dg.AssetKey(["intervention_list"]), dg.AssetKey(["campaign_sends"])} & set(
        graph.upstream_key_iterator(responses)
    )
    checked = {spec.asset_key for node in graph.assets_defs for spec in node.check_specs if spec.blocking}
    assert responses in checked


def test_no_asset_description_holds_text_the_ui_would_take_for_an_html_tag() -> None:
    # Guards the report's path reading "campaign_report_.html" in the UI: Dagster renders descriptions
    # as Markdown, and `<date>` was swallowed as a tag.
    graph = build_definitions().resolve_asset_graph()
    tagged = {
        key.to_user_string(): re.findall(r"<[A-Za-z/][^>]*>", graph.get(key).description or "")
        for key in graph.get_all_asset_keys()
    }
    assert {key: tags for key, tags in tagged.items() if tags} == {}


def test_every_place_that_names_the_code_location_names_it_reengage() -> None:
    # Guards runs and app-managed components recorded under a second name: the UI finds runs by it.
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]
    workspace = yaml.safe_load((ROOT / "workspace.yaml").read_text())
    assert CODE_LOCATION == "reengage"
    assert pyproject["dagster"]["code_location_name"] == CODE_LOCATION
    assert pyproject["dg"]["project"]["code_location_name"] == CODE_LOCATION
    assert [entry["python_module"]["location_name"] for entry in workspace["load_from"]] == [CODE_LOCATION]


# What a checkout needs to load the code location (no environments, .data, dbt target or caches).
NOT_SOURCES = shutil.ignore_patterns(
    ".git",
    ".venv",
    ".venv-spark",
    ".data",
    "target",
    "dbt_packages",
    "logs",
    "__pycache__",
    "*.pyc",
    ".*_cache",
    "tests",
)


def test_a_checkout_in_a_folder_not_named_reengage_loads_without_a_warning(tmp_path: Path) -> None:
    # Guards 152 warnings at start when the clone's folder had another name: dg named the project
    # after the folder, and every module loaded under workspace.yaml's "reengage" said the two differed.
    checkout = tmp_path / "my-clone"
    shutil.copytree(ROOT, checkout, ignore=NOT_SOURCES)
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copyfile(ROOT / "reengage" / "dagster.local.yaml", home / "dagster.yaml")
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "REENGAGE_HOME": str(tmp_path / "reengage_home"),
        "PYTHONPATH": os.pathsep.join([str(checkout), str(checkout / "devkit")]),
        "NO_COLOR": "1",
    }
    command = [sys.executable, "-m", "dagster", "definitions", "validate", "-w", "workspace.yaml"]
    done = subprocess.run(command, cwd=checkout, env=env, capture_output=True, text=True, timeout=600)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    assert "my-clone" not in output
    assert [line for line in output.splitlines() if "WARNING" in line] == []
