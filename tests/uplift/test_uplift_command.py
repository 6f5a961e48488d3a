"""`python -m reengage.learning.uplift evaluate`: the learner, evaluated on a file, outside the pipeline."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from reengage.learning.uplift.__main__ import main
from tests.uplift.uplift_world import decisions

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def decisions_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("uplift") / "decisions.csv"
    decisions(5_000, seed=21).rename(
        columns={"treated": "sent", "converted": "bought", "propensity": "p_send"}
    ).to_csv(path, index=False)
    return path


def test_evaluate_prints_qini_auuc_deciles_and_the_verdict_for_a_csv(decisions_csv: Path, capsys):
    code = main(
        [
            "evaluate",
            str(decisions_csv),
            "--treatment=sent",
            "--outcome=bought",
            "--propensity=p_send",
            "--day=run_date",
            "--features=affinity,sessions_28d,recency_days,plan",
            "--holdout-days=5",
            "--bootstrap=50",
        ]
    )

    printed = capsys.readouterr().out
    assert code == 0
    assert "evaluation: 2026-03-16 to 2026-03-20 (5 days)" in printed
    for line in ("Qini coefficient", "AUUC", "average effect", "calibration by decile", "promotion: "):
        assert line in printed
    assert "95% interval" in printed
    assert re.search(r"treated, [\d,]+ with the outcome; [\d,]+ holdout, [\d,]+ with the outcome", printed)


def test_evaluate_fails_naming_the_file_and_a_missing_column(decisions_csv: Path):
    # Guards the command as a user meets it: a typo in a column name is one clear line and a
    # non-zero exit, not a traceback.
    result = subprocess.run(
        [sys.executable, "-m", "reengage.learning.uplift", "evaluate", str(decisions_csv),
         "--treatment=sent", "--outcome=bought", "--propensity=propensity"],
        cwd=REPO, capture_output=True, text=True, check=False,
    )  # fmt: skip

    assert result.returncode == 1
    assert f"FAILED: {decisions_csv}: no column 'propensity' (the propensity column)" in result.stderr
    assert "Traceback" not in result.stderr


def test_evaluate_names_the_row_of_a_value_it_cannot_use(tmp_path: Path, capsys):
    table = decisions(1_000, seed=22)
    table.loc[9, "treated"] = 2
    path = tmp_path / "decisions.parquet"
    table.to_parquet(path)

    code = main(
        ["evaluate", str(path), "--treatment=treated", "--outcome=converted", "--propensity=propensity"]
    )

    assert code == 1
    assert f"FAILED: {path}: column 'treated', row 10: must be 0 or 1 (found 2)" in capsys.readouterr().err


def test_the_program_offers_evaluate_and_policy_value(capsys):
    # Guards the wiring: each subcommand module registers itself on the one program.
    with pytest.raises(SystemExit):
        main(["--help"])

    listing = capsys.readouterr().out
    assert "evaluate" in listing and "policy-value" in listing
