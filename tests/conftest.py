"""Shared fixtures. Fixtures for real components live in tests/fixtures/ and load as plugins."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest_plugins = [
    "tests.fixtures.datasets",
    "tests.fixtures.pulse",
    "tests.fixtures.broker",
    "tests.fixtures.board",
]

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def isolated_config(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test's config (the app's Recent projects) goes to a temp folder, never the user's own."""
    config = tmp_path_factory.mktemp("config")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config))
    return config


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)
