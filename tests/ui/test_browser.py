"""The Dagster UI as a person opens it: the global asset lineage page shows every asset by name.

Starts the real `dagster-webserver` on a free localhost port with a temporary DAGSTER_HOME, opens
the page in headless Chromium (Debian's package, driven over the DevTools protocol because the UI
is a JavaScript app), and saves what a person sees to the test's tmp dir and to
`.data/ui/asset-graph.png`. Fails, never skips, when chromium is missing.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from .devtools import Page, open_page
from .webserver import ROOT, Webserver, running_webserver

# The global asset lineage (Dagster 1.13 route; the sidebar's "Lineage").
LINEAGE_ROUTE = "/asset-groups"
SCREENSHOT_COPY = ROOT / ".data" / "ui" / "asset-graph.png"
STAGE_GROUPS = ["ingest", "warehouse", "quality", "scoring", "interventions", "delivery", "measurement"]
# What a user must find whatever else is added: one or more assets per stage.
CORE_ASSETS = {
    "raw/customers", "raw/events", "raw/email_events", "marts/fct_user_features", "quarantine_summary",
    "churn_scores", "intervention_list", "campaign_sends", "campaign_results", "campaign_report",
}  # fmt: skip
ASSET_KEYS = "{ assetNodes { assetKey { path } } }"
WIDTH, HEIGHT = 2400, 4000


@pytest.fixture(scope="module")
def webserver(tmp_path_factory: pytest.TempPathFactory):
    home = tmp_path_factory.mktemp("dagster_home")
    with running_webserver(home, tmp_path_factory.mktemp("reengage_home")) as server:
        yield server


def test_the_asset_lineage_page_shows_every_asset_by_name(webserver: Webserver, tmp_path: Path) -> None:
    served = {"/".join(node["assetKey"]["path"]) for node in webserver.graphql(ASSET_KEYS)["assetNodes"]}
    assert CORE_ASSETS <= served, f"the webserver lacks {sorted(CORE_ASSETS - served)}"
    names = sorted({key.split("/")[-1] for key in served})

    # Tall enough for the whole expanded graph at the UI's smallest zoom (41 assets in 8 groups needed
    # about 2,200 px, and the graph grows with every stage); nodes outside the viewport are not
    # rendered, so a smaller page would hide some.
    with open_page(tmp_path / "profile", width=WIDTH, height=HEIGHT) as page:
        page.navigate(webserver.url + LINEAGE_ROUTE)
        page.wait_for(lambda text: all(g in text for g in STAGE_GROUPS), 120, "the stage groups")
        page.click_button("Hide navigation")  # more room for the graph in the screenshot
        page.click_button("Skip")  # Dagster's community pop-up, when it shows, covers part of the graph
        labels = _expand_all_groups(page, names)
        missing = [name for name in names if not any(_shows(label, name) for label in labels)]
        assert not missing, f"the lineage graph does not show {missing}; it shows {sorted(labels)}"
        assert "Error" not in page.text().split()
        page.click_button("Skip")  # the pop-up again, if it showed up late
        time.sleep(1)
        shot = page.screenshot(tmp_path / "asset-graph.png")

    SCREENSHOT_COPY.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(shot, SCREENSHOT_COPY)
    image = np.asarray(Image.open(shot).convert("L"), dtype=float)
    assert image.shape == (HEIGHT, WIDTH)
    assert image.std() > 10, "the screenshot is blank"
    print(f"screenshot: {shot} (copied to {SCREENSHOT_COPY})")


def _expand_all_groups(page: Page, names: list[str], timeout: float = 60.0) -> set[str]:
    """Press the UI's "expand all groups" shortcut (Alt+E) until the asset nodes render; their labels."""
    deadline = time.monotonic() + timeout
    labels: set[str] = set()
    while time.monotonic() < deadline:
        for kind in ("rawKeyDown", "keyUp"):
            page.call("Input.dispatchKeyEvent", type=kind, modifiers=1, key="e", code="KeyE",
                      windowsVirtualKeyCode=69)  # fmt: skip
        time.sleep(1)
        labels = {line.strip() for line in page.text().splitlines() if line.strip()}
        if sum(any(_shows(label, name) for label in labels) for name in names) == len(names):
            return labels
    return labels


def _shows(label: str, name: str) -> bool:
    """A node label is the name, or the name shortened in the middle ("fct_user…_activity")."""
    if label == name:
        return True
    if label.count("…") != 1:
        return False
    head, tail = label.split("…")
    return len(head) + len(tail) < len(name) and name.startswith(head) and name.endswith(tail)


def test_a_shortened_label_matches_only_its_own_name() -> None:
    assert _shows("fct_user…_activity", "fct_user_daily_activity")
    assert not _shows("fct_user…_activity", "fct_user_features")
    assert not _shows("events", "email_events")
