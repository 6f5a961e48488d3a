"""`pip install .` gives a product that works on its own: the wheel built from this checkout, installed in
a fresh virtual environment, inits a project and loads a day of exports from an empty folder outside the
repository. The wheel's only top-level name is `reengage`.

The fresh environment sees this environment's third-party packages (a `.pth` file naming its
site-packages, what `--system-site-packages` does for a base interpreter) and gets the wheel alone with
`--no-deps`, so the test needs no network and no second copy of the dependencies. The checkout itself
is kept off its path: the wheel must carry everything the product reads.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import venv
import zipfile
from datetime import date
from pathlib import Path

import pytest

from reengage_dev.demo.world import generate_world

ROOT = Path(__file__).resolve().parents[1]
DAY = date(2026, 3, 10)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    # No build isolation: the build backend pinned in requirements.lock builds it, without the network.
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            str(ROOT),
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            out,
        ],
        check=True,
        capture_output=True,
        timeout=600,
    )
    (found,) = out.glob("reengage-*.whl")
    return found


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh environment holding the wheel; returns its bin folder."""
    env_dir = tmp_path_factory.mktemp("venv")
    venv.EnvBuilder(with_pip=False).create(env_dir)
    site = next((env_dir / "lib").glob("python3.*/site-packages"))
    (site / "zz_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    python = env_dir / "bin" / "python"
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q", str(wheel)],
        env=_outside_the_checkout(),  # the build's reengage.egg-info there would pass for an install
        check=True,
        capture_output=True,
        timeout=600,
    )
    # dbt's command, which the pipeline runs beside its interpreter, as pip writes it for dbt-core.
    dbt = env_dir / "bin" / "dbt"
    dbt.write_text(f"#!{python}\nimport sys\nfrom dbt.cli.main import cli\nsys.exit(cli())\n")
    dbt.chmod(0o755)
    return env_dir / "bin"


def _outside_the_checkout() -> dict[str, str]:
    """The environment of a shell that has never seen the checkout or the suite's settings."""
    return {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("REENGAGE_", "DAGSTER_", "DBT_")) and name != "PYTHONPATH"
    }


def _reengage(bin_dir: Path, folder: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(bin_dir / "reengage"), *argv],
        cwd=folder,
        env=_outside_the_checkout(),
        capture_output=True,
        text=True,
        timeout=900,
    )


def test_the_wheel_has_one_top_level_name_reengage_and_everything_the_product_reads(wheel: Path) -> None:
    # Guards the issue: the wheel shipped `orchestration` and `models` (a name that collides with
    # anything else called models), and none of the dbt project, suites, campaigns or migrations.
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        (top_level,) = [n for n in names if n.endswith(".dist-info/top_level.txt")]
        assert archive.read(top_level).decode().split() == ["reengage"]
    assert {n.split("/")[0] for n in names if ".dist-info/" not in n} == {"reengage"}
    for shipped in (
        "reengage/dbt_project/dbt_project.yml",
        "reengage/dbt_project/profiles.yml",
        "reengage/dbt_project/seeds/event_catalog.csv",
        "reengage/dbt_project/models/overview.md",
        "reengage/expectations/raw_events.json",
        "reengage/campaigns/dormant_win_back.yaml",
        "reengage/campaigns/campaign.schema.json",
        "reengage/schema/sql/0001_initial_schema.sql",
        "reengage/dagster.local.yaml",
        "reengage/defs/interventions/policy/decisions.sql",
        "reengage/defs/quality/vendor/jquery/jquery.min.js",
    ):
        assert shipped in names, f"{shipped} is not in the wheel"
    written_by_dbt = ("reengage/dbt_project/target/", "reengage/dbt_project/logs/")
    assert not [n for n in names if n.startswith(written_by_dbt)]


@pytest.mark.e2e
def test_the_installed_package_inits_a_project_and_loads_a_day_from_an_empty_folder(
    installed: Path, tmp_path: Path
) -> None:
    # Guards the issue: a non-editable install crashed looking for its config (the dbt project,
    # suites and campaigns were found next to the package, in a checkout that is not there).
    folder = tmp_path / "shop"
    folder.mkdir()
    located = subprocess.run(
        [str(installed / "python"), "-c", "import reengage; print(reengage.__file__)"],
        cwd=folder,
        env=_outside_the_checkout(),
        capture_output=True,
        text=True,
        check=True,
    )
    assert Path(located.stdout.strip()).is_relative_to(installed.parent), "the wheel's copy runs"

    init = _reengage(installed, folder, "init")
    assert init.returncode == 0, init.stdout + init.stderr
    assert (folder / "reengage.toml").is_file()
    assert sorted(p.name for p in (folder / "campaigns").glob("*.yaml")) == sorted(
        p.name for p in (ROOT / "campaigns").glob("*.yaml")
    ), "init gives a new project the example campaigns"

    # The home defaults to .data beside the settings file, and the landing folder to <home>/landing.
    generate_world(folder / ".data", customers=40, days=1, end_date=DAY, seed=3, dirty_share=0.0)
    backfill = _reengage(installed, folder, "backfill", "--from", str(DAY), "--to", str(DAY))
    assert backfill.returncode == 0, backfill.stdout + backfill.stderr
    assert (folder / ".data" / "warehouse.duckdb").is_file()
    assert (folder / ".data" / "dbt" / "target" / "manifest.json").is_file(), "dbt parses into the home"
    site = next(installed.parent.glob("lib/python3.*/site-packages"))
    assert not (site / "reengage" / "dbt_project" / "target").exists(), "nothing is written in the package"

    again = _reengage(installed, folder, "init", "second.toml")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "example campaigns" not in again.stdout, "a campaigns folder with campaigns is left alone"
