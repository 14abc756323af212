"""Fixtures for the Keras facade tests; registers the `slow` marker (deselect: -m "not slow")."""

from __future__ import annotations

import pytest

from chainrule.keras import clear_session
from chainrule.keras.utils import set_random_seed


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: a long-running test (deselect with -m 'not slow')")


@pytest.fixture(autouse=True)
def _fresh_session():
    """Each test starts with layer names from 'dense' and a seeded generator."""
    clear_session()
    set_random_seed(0)
    yield

