"""Settings come from reengage.toml, an environment variable overrides the file, and `reengage init`
writes a file that holds every setting with exactly its default."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from reengage import cli, settings, settings_template
from reengage.defs.ingest.contracts import CONTRACTS, SOURCES, missing_file_rule
from reengage.defs.operations.timezone import schedule_timezone
from reengage.defs.quality.breakers import VolumeRule


@pytest.fixture
def settings_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A settings file the process reads ($REENGAGE_SETTINGS), empty until a test writes it."""
    path = tmp_path / "conf" / "reengage.toml"
    path.parent.mkdir()
    path.write_text("")
    monkeypatch.setenv("REENGAGE_SETTINGS", str(path))
    for name in ("REENGAGE_TIMEZONE", "REENGAGE_VOLUME_STATISTIC", "REENGAGE_FIRST_DAY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("REENGAGE_LANDING", raising=False)
    return path


def test_settings_are_read_from_the_file(settings_file: Path) -> None:
    # Guards the "every setting is an environment variable": the file alone configures a run.
    settings_file.write_text(
        'landing = "exports"\nfirst_day = 2011-12-01\n'
        '[schedule]\ntimezone = "Europe/Berlin"\n'
        "[volume.events]\nmin_ratio = 0.25\n"
        '[sources.events]\nmissing_file = "required"\n'
    )
    assert settings.landing_dir() == str(settings_file.parent / "exports")  # relative to the file
    assert settings.first_day().value.isoformat() == "2011-12-01"
    assert schedule_timezone() == "Europe/Berlin"
    assert VolumeRule.for_source("events").min_ratio == 0.25
    assert VolumeRule.for_source("customers").min_ratio == 0.5  # a source's table is its own
    assert missing_file_rule("events") == "required"
    assert missing_file_rule("customers") == CONTRACTS["customers"].missing_file


def test_reengage_toml_in_the_working_directory_is_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("REENGAGE_SETTINGS")
    monkeypatch.delenv("REENGAGE_TIMEZONE", raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "reengage.toml").write_text('[schedule]\ntimezone = "Asia/Tokyo"\n')
    assert schedule_timezone() == "Asia/Tokyo"


def test_an_environment_variable_overrides_the_file(settings_file: Path, monkeypatch) -> None:
    # Guards deployments and tests that set variables: they keep working beside a settings file.
    settings_file.write_text('[schedule]\ntimezone = "Europe/Berlin"\n[volume]\nstatistic = "median"\n')
    monkeypatch.setenv("REENGAGE_TIMEZONE", "America/New_York")
    monkeypatch.setenv("REENGAGE_VOLUME_EVENTS_STATISTIC", "mean")
    assert schedule_timezone() == "America/New_York"
    assert VolumeRule.for_source("events").statistic == "mean"
    assert settings.resolve("schedule.timezone").origin == "REENGAGE_TIMEZONE"


@pytest.mark.parametrize(
    "text, message",
    [
        (
            "[schedule]\ntimezne = 'UTC'\n",
            "{file}: unknown setting 'schedule.timezne' (accepted in [schedule]: hour, retrain_cron, "
            "scoring_hour, timezone)",
        ),
        (
            "[volume.custmers]\nstatistic = 'median'\n",
            "{file}: unknown setting 'volume.custmers.statistic' (accepted in [volume.custmers]: "
            "no such table;",
        ),
        ("[schedule]\nhour = '6'\n", "{file}: schedule.hour = '6' is not a whole hour from 0 to 23"),
        (
            "[sources.customers]\nmissing_file = 'optional'\n",
            "{file}: sources.customers.missing_file = 'optional' is not one of required, no_activity, "
            "no_change",
        ),
        ("first_day = 2011-13-01\n", "{file}: not a valid TOML file"),
        ("first_day = '1 Dec 2011'\n", "{file}: first_day = '1 Dec 2011' is not a date (YYYY-MM-DD)"),
    ],
)
def test_an_unknown_key_or_a_wrong_type_is_refused_naming_the_file_and_the_key(
    settings_file: Path, text: str, message: str
) -> None:
    # Guards a misspelt key silently doing nothing, and a wrong value failing far from its cause.
    settings_file.write_text(text)
    with pytest.raises(settings.SettingsError) as refused:
        settings.home()
    assert str(refused.value).startswith(message.format(file=settings_file))
    assert "\n" not in str(refused.value)


def test_a_settings_file_named_but_missing_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("REENGAGE_SETTINGS", str(tmp_path / "nowhere.toml"))
    with pytest.raises(
        settings.SettingsError, match="REENGAGE_SETTINGS=.*nowhere.toml' names no settings file"
    ):
        settings.landing_dir()


def _every_value() -> dict[tuple[str, str | None], settings.Value]:
    """Every setting's value, per source too where it can differ by source."""
    values = {}
    for setting in settings.SETTINGS:
        for source in (None, *SOURCES) if setting.per_source else (None,):
            own = None
            if source is not None:
                contract = CONTRACTS[source]
                own = (
                    contract.missing_file if setting.table == "sources" else contract.volume.get(setting.name)
                )
            values[setting.key, source] = settings.value(setting.key, source=source, source_default=own)
    return values


def test_init_writes_a_template_that_parses_to_exactly_the_defaults(
    settings_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Guards the template drifting from the settings the code reads (it is generated from them).
    settings_file.unlink()
    assert cli.main(["init", str(settings_file)]) == 0
    assert str(settings_file) in capsys.readouterr().out
    text = settings_file.read_text()
    tomllib.loads(text)
    for setting in settings.SETTINGS:  # every setting is there, set or commented out, with its variable
        assert f"\n{setting.name} = " in text or f"\n# {setting.name} = " in text, setting.key
        assert setting.env in text, setting.env
    with_template = _every_value()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("REENGAGE_SETTINGS", "")
        assert _every_value() == with_template


def test_init_never_overwrites_an_existing_file(
    settings_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings_file.write_text("[schedule]\nhour = 5\n")
    assert cli.main(["init", str(settings_file)]) == 1
    assert "exists; it was left as it is" in capsys.readouterr().out
    assert settings_file.read_text() == "[schedule]\nhour = 5\n"
    # A folder gets reengage.toml in it.
    assert cli.main(["init", str(settings_file.parent.parent)]) == 0
    assert (settings_file.parent.parent / "reengage.toml").read_text() == settings_template.render_template()


def test_the_settings_table_in_the_operations_doc_is_what_the_code_declares() -> None:
    # Guards docs/operations.md describing settings, defaults or variables the code no longer has.
    assert settings_template.BLOCK.current() == settings_template.render_table().strip(), (
        "docs/operations.md is stale: run python -m reengage.settings_template --write"
    )
