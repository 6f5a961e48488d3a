"""The `policy-value` command on CSV and Parquet logs."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from reengage.learning.uplift.policy_value_cli import register
from tests.uplift.test_policy_value import candidate, logged


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m reengage.learning.uplift")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["policy-value", *argv])
    return args.run(args)


def write_log(path: Path) -> Path:
    log = logged(1_500, seed=31)
    frame = pd.DataFrame(
        {
            "user_id": [f"u{i % 500}" for i in range(1_500)],
            "x": log.x,
            "sent": log.treated.astype(int),
            "converted": log.outcome.astype(int),
            "p_sent": log.propensity,
            "uplift_top": candidate(log.x),
            "everyone": 1.0,
        }
    )
    if path.suffix == ".parquet":
        frame.to_parquet(path)
    else:
        frame.to_csv(path, index=False)
    return path


LOG_COLUMNS = ["--treatment", "sent", "--outcome", "converted", "--propensity", "p_sent"]


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_the_command_prints_a_row_per_policy_and_estimator_for_a_log_file(tmp_path, capsys, suffix):
    # Guards the analyst's way in: a file, its columns named on the command line, a table back.
    path = write_log(tmp_path / f"decisions{suffix}")
    policies = ["--policy", "uplift=uplift_top", "--policy", "all=everyone"]
    with threadpool_limits(limits=1):
        code = run([str(path), *LOG_COLUMNS, *policies, "--cluster", "user_id", "--features", "x"])
    out = capsys.readouterr().out
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:5] == ["policy", "estimator", "value", "[95%", "CI]"]
    assert "incremental per 1,000 [95% CI]" in lines[0] and "incremental total [95% CI]" in lines[0]
    rows = [line.split()[:2] for line in lines[1:7]]
    assert rows == [[name, est] for name in ("uplift", "all") for est in ("ips", "snips", "dr")]
    # The fitted outcome models gave a DR row: an estimate and its interval, three numbers each time.
    dr_figures = re.findall(r"-?\d+\.?\d*", lines[3].split(maxsplit=2)[2])
    assert len(dr_figures) == 3 * 3 + 3 and all(np.isfinite(float(v)) for v in dr_figures)
    assert "u1" not in out  # no user id printed


def test_the_command_fails_clearly_naming_the_file_and_a_missing_column(tmp_path, capsys):
    # Guards against a traceback (or, worse, a table) when a column name is mistyped.
    path = write_log(tmp_path / "decisions.csv")
    argv = [str(path), "--treatment", "sent", "--outcome", "converted", "--propensity", "p_send"]
    code = run([*argv, "--policy", "uplift=uplift_top"])
    err = capsys.readouterr().err
    assert code == 1
    assert str(path) in err and "no column 'p_send' (the propensity)" in err


def test_the_command_names_the_missing_policy_column_and_the_bad_row(tmp_path, capsys):
    path = write_log(tmp_path / "decisions.csv")
    assert run([str(path), *LOG_COLUMNS, "--policy", "uplift=top_uplift"]) == 1
    assert "no column 'top_uplift' (the policy 'uplift')" in capsys.readouterr().err
    frame = pd.read_csv(path)
    frame.loc[2, "p_sent"] = 1.7
    frame.to_csv(path, index=False)
    assert run([str(path), *LOG_COLUMNS, "--policy", "uplift=uplift_top"]) == 1
    err = capsys.readouterr().err
    assert f"{path}: propensity (column 'p_sent'): row 3 not a probability in [0, 1]" in err


def test_the_command_refuses_a_file_that_is_not_there(tmp_path, capsys):
    assert run([str(tmp_path / "nowhere.csv"), *LOG_COLUMNS, "--policy", "a=b"]) == 1
    assert "nowhere.csv: no such file" in capsys.readouterr().err


def test_the_bootstrap_option_prints_the_same_table_for_the_same_seed(tmp_path, capsys):
    # Guards a rerun of a report: resampled intervals must not change between two runs.
    path = write_log(tmp_path / "decisions.csv")
    argv = [str(path), *LOG_COLUMNS, "--policy", "uplift=uplift_top", "--cluster", "user_id"]
    assert run([*argv, "--bootstrap", "200", "--seed", "5"]) == 0
    first = capsys.readouterr().out
    assert run([*argv, "--bootstrap", "200", "--seed", "5"]) == 0
    assert capsys.readouterr().out == first
    assert run(argv) == 0
    assert capsys.readouterr().out != first  # the normal interval differs: the option was used


def test_a_comparison_arm_named_on_the_command_line_is_the_one_the_estimates_use(tmp_path, capsys):
    # The same log with its comparison arm narrowed to half the rows not sent (the other half
    # "sent later"): the estimates change, and naming one of the two columns alone is refused.
    path = write_log(tmp_path / "decisions.csv")
    frame = pd.read_csv(path)
    held = (frame["sent"] == 0) & (np.arange(len(frame)) % 2 == 0)
    frame["held_for_good"] = held.astype(int)
    frame["p_held"] = (1 - frame["p_sent"]) / 2
    frame.to_csv(path, index=False)
    policies = ["--policy", "uplift=uplift_top"]
    assert run([str(path), *LOG_COLUMNS, *policies]) == 0
    plain = capsys.readouterr().out
    arm = ["--control", "held_for_good", "--control-propensity", "p_held"]
    assert run([str(path), *LOG_COLUMNS, *policies, *arm]) == 0
    narrowed = capsys.readouterr().out
    assert narrowed.splitlines()[0] == plain.splitlines()[0] and narrowed != plain
    assert run([str(path), *LOG_COLUMNS, *policies, "--control", "held_for_good"]) == 1
    assert "give both control and control_propensity" in capsys.readouterr().err
