"""The DuckDB file rewrite after an erasure: live rows kept, deleted bytes gone, nothing lost on a failure.

Real DuckDB files, real processes for the writer that crashed or holds the file.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest
from privacy_world import ALICE, ALICE_OLD, build_world, erase_person, files_holding

from reengage.privacy.erasure import ErasureRun, carry_out
from reengage.privacy.warehouse_file import RewriteError, rewrite

SECRET = "Zebulon.Quincey@example.org"


def make_warehouse(path: Path) -> None:
    """A table with a deleted row, a view naming its catalog as dbt's views do, a sequence and a macro.

    The table is small: DuckDB stores a few dozen strings as they are, so a byte search sees them.
    """
    con = duckdb.connect(str(path))
    try:
        con.execute("create schema s")
        con.execute("create sequence s.ids start 1")
        con.execute("create table s.people (id integer default nextval('s.ids'), email varchar not null)")
        con.execute("insert into s.people (email) select 'person' || i || '@example.com' from range(50) t(i)")
        con.execute("insert into s.people (email) values (?)", [SECRET])
        con.execute('create view s.people_view as select email from "warehouse"."s"."people"')
        con.execute("create macro s.domain(e) as split_part(e, '@', 2)")
        con.execute("checkpoint")
        con.execute("delete from s.people where email = ?", [SECRET])
        con.execute("checkpoint")
    finally:
        con.close()


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_rewrite_keeps_every_object_and_row_and_drops_the_deleted_bytes(tmp_path: Path) -> None:
    path = tmp_path / "warehouse.duckdb"
    make_warehouse(path)
    assert SECRET.encode() in path.read_bytes(), "DuckDB keeps a deleted value in its freed blocks"
    done = rewrite(path)
    assert SECRET.encode() not in path.read_bytes()
    assert done.bytes_before > 0 and done.bytes_after > 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["warehouse.duckdb"]
    con = duckdb.connect(str(path))
    try:
        assert con.execute("select count(*) from s.people_view").fetchall() == [(50,)]
        assert con.execute("select s.domain('a@b.io')").fetchall() == [("b.io",)]
        assert con.execute("insert into s.people (email) values ('new@x.io') returning id").fetchall() == [
            (52,)
        ]
    finally:
        con.close()


def test_a_wal_left_by_a_crashed_writer_ends_up_in_the_new_file_and_is_removed(tmp_path: Path) -> None:
    path = tmp_path / "warehouse.duckdb"
    make_warehouse(path)
    crashed = textwrap.dedent(
        f"""
        import os, duckdb
        con = duckdb.connect({str(path)!r})
        con.execute("set checkpoint_threshold = '1TB'")
        con.execute("insert into s.people (email) values ('late@example.com')")
        os._exit(0)  # no checkpoint: the row is only in the WAL
        """
    )
    subprocess.run([sys.executable, "-c", crashed], check=True)
    assert (tmp_path / "warehouse.duckdb.wal").exists()
    rewrite(path)
    assert not (tmp_path / "warehouse.duckdb.wal").exists()
    con = duckdb.connect(str(path), read_only=True)
    try:
        assert con.execute("select count(*) from s.people where email = 'late@example.com'").fetchall() == [
            (1,)
        ]
        assert con.execute("select count(*) from s.people").fetchall() == [(51,)]
    finally:
        con.close()


def test_a_copy_that_cannot_be_made_leaves_the_file_exactly_as_it_was(tmp_path: Path) -> None:
    # The copy fails on its way (DuckDB refuses a statement on it), after it was half written.
    # A foreign key DuckDB's COPY FROM DATABASE could not order used to be the fault here; whether
    # it fails depends on the order DuckDB lists the tables in, so the test passed now and then.
    path = tmp_path / "warehouse.duckdb"
    make_warehouse(path)
    before = sha256(path)

    def failing_stamp(con: duckdb.DuckDBPyConnection, catalog: str) -> None:
        con.execute(f"insert into {catalog}.no_such_table values (1)")

    with pytest.raises(RewriteError, match="it was left as it was"):
        rewrite(path, stamp=failing_stamp)
    assert sha256(path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["warehouse.duckdb"]


def test_a_process_writing_the_warehouse_makes_the_rewrite_fail_and_change_nothing(tmp_path: Path) -> None:
    path = tmp_path / "warehouse.duckdb"
    make_warehouse(path)
    before = sha256(path)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, sys; c = duckdb.connect({str(path)!r}); print('open', flush=True); "
            "sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "open"
        with pytest.raises(RewriteError, match="lock"):
            rewrite(path)
    finally:
        holder.communicate("")
    assert sha256(path) == before


def test_a_rewrite_cut_short_by_a_crash_is_finished_by_the_next_run(isolated_home: Path) -> None:
    # The erasure committed, then the process died before the rewrite: the audit row says so,
    # and the next run (here with no request at all) rewrites the file and stamps the row.
    world = build_world(isolated_home)
    erase_person(world, customer_id=ALICE)

    def next_run() -> ErasureRun:
        return carry_out(
            [],
            warehouse_path=world.warehouse,
            warehouse_kind="duckdb",
            ledger_path=world.ledger_path,
            skip_done=True,
        )

    alice = {"id": rb"cus_1(?![0-9])", "address": ALICE_OLD.encode()}
    assert files_holding([world.warehouse.parent], alice, skip=(world.landing,)) != []
    run = next_run()
    assert run.outcomes == [] and run.file_rewrite is not None
    assert files_holding([world.warehouse], alice) == []
    con = duckdb.connect(str(world.warehouse), read_only=True)
    try:
        assert con.execute(
            "select count(*) from privacy.erasure_audit where file_rewritten_at is null"
        ).fetchall() == [(0,)]
    finally:
        con.close()
    assert next_run().file_rewrite is None, "nothing erased since the last rewrite: the file is left alone"


def test_on_spark_an_erasure_discards_every_table_dbt_built_there(
    isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Guards erasure on a Spark warehouse: its tables are Parquet files outside the DuckDB file, and
    # an incremental one keeps rows no rebuild brings back. They go (and the raw rows exported for
    # Spark, and the stages' tables published for it), tied to the audit row, so a run that died
    # after the erasure still discards them.
    world = build_world(isolated_home)
    spark_home = isolated_home / "spark"
    monkeypatch.setenv("REENGAGE_SPARK_HOME", str(spark_home))
    built = spark_home / "warehouse" / "marts.db" / "fct_user_features" / "part-0.parquet"
    exported = spark_home / "raw" / "customers" / "part-0.parquet"
    published = spark_home / "stages" / "interventions" / "decisions" / "part-0.parquet"
    for folder, file in ((built.parent, built), (exported.parent, exported), (published.parent, published)):
        folder.mkdir(parents=True)
        con = duckdb.connect()
        con.execute(f"copy (select ? as email) to '{file}' (format parquet)", [ALICE_OLD])
        con.close()
    (spark_home / "metastore").mkdir()
    erase_person(world, customer_id=ALICE)

    run = carry_out(
        [],
        warehouse_path=world.warehouse,
        warehouse_kind="spark",
        ledger_path=world.ledger_path,
        skip_done=True,
    )

    assert run.file_rewrite is not None
    # only the build lock stays: empty once released, it holds no data
    assert sorted(p.name for p in spark_home.iterdir()) == ["build.lock"]
    assert (spark_home / "build.lock").read_text() == ""
    assert files_holding([world.warehouse], {"address": ALICE_OLD.encode()}) == []
