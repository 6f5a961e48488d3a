"""Each vendor format's sample export (tests/fixtures/formats/README.md says where each comes from)
and the UTC day it holds: the command-line and the sessions tests load the same files."""

from __future__ import annotations

from datetime import date
from pathlib import Path

SAMPLES = Path(__file__).resolve().parent / "fixtures" / "formats"
FORMAT_SAMPLES = {
    "segment": ("example_segment_pages.csv", date(2015, 2, 23)),
    "rudderstack": ("tracks_pages_identifies_2022-03-01.csv", date(2022, 3, 1)),
    "ga4": ("events_20210131.jsonl", date(2021, 1, 31)),
    "mixpanel": ("export_2023-04-18.jsonl", date(2023, 4, 18)),
    "amplitude": ("export_2021-12-09.jsonl", date(2021, 12, 9)),
    "snowplow": ("enriched_event.tsv", date(2013, 11, 26)),
}
