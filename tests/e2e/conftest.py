"""Fixtures shared by the browser tests: one Chromium per module (tests.e2e.browser)."""
from __future__ import annotations

import pytest

from tests.e2e.browser import chromium


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b
