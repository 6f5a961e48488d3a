"""Fixtures for the uplift tests: one thread for numerics, one trained model per session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from threadpoolctl import threadpool_limits

from reengage.learning.uplift.training import TrainedUplift, train_and_evaluate
from tests.uplift.uplift_world import config, decisions


@pytest.fixture(scope="session", autouse=True)
def single_threaded_numerics() -> Iterator[None]:
    """One OpenMP thread: on a busy shared machine, oversubscribed gradient boosting slows
    from well under a second to many seconds per fit; results are identical either way."""
    with threadpool_limits(limits=1):
        yield


@pytest.fixture(scope="session")
def trained() -> TrainedUplift:
    """A model of the `winback` campaign, trained on 15 days and judged on the latest 5."""
    return train_and_evaluate(decisions(12_000, seed=11), config())
