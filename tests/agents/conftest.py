"""The agents' tests run the real Faust agents in-process (``test_context``), on memory, on defaults."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.environment import SAMPLE, use_defaults


def pytest_configure(config: pytest.Config) -> None:
    use_defaults()


@pytest.fixture(scope="session")
def sample_path() -> Path:
    return SAMPLE
