"""Settings of the reliability suite (issue 9).

``GRAPHMEM_RELIABILITY=full`` turns the fast CI subset into the full run: 250
SIGKILLs instead of 24, a 60 s thread stress instead of 6 s, and the 1M-row
batch. ``GRAPHMEM_RELIABILITY_SEED`` changes the seed of the kill campaign
(the figures it reaches are printed, and written as JSON to
``GRAPHMEM_RELIABILITY_REPORT`` when that is set).
"""

from __future__ import annotations

import os

import pytest

FULL = os.environ.get("GRAPHMEM_RELIABILITY", "") == "full"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = os.path.dirname(__file__)
    for item in items:
        if str(item.fspath).startswith(here):
            item.add_marker(pytest.mark.reliability)
