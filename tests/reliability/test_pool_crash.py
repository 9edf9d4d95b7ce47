"""Crash consistency with a buffer pool too small for the writes (see harness.py).

The kill campaign of test_crash.py, with every child opening the store with a
small buffer pool (``harness.POOL_MIB``) and writing 384-d batches of thousands
through COPY: between the SIGKILLs, writes fail for lack of pool. LadybugDB
0.22 then refuses a statement or, after a COPY, says the commit is durable when
it is not (RELIABILITY.md, item 18: graphmem must not acknowledge it); kuzu
0.11.3 refuses a statement or fails the COMMIT. A failed write is never
acknowledged and counts as in flight: after the child is killed, the store must
hold every acknowledged write and the failed one wholly or not at all.

``GRAPHMEM_RELIABILITY=full`` runs 100 kills instead of 6.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from ..conftest import ENGINE
from .conftest import FULL
from .harness import POOL_MIB, campaign, failure_kind

KILLS = 100 if FULL else 6
SEED = int(os.environ.get("GRAPHMEM_RELIABILITY_SEED", "9"))
KINDS = {"copy-not-durable", "commit-failed", "pool-refused"}
ATTEMPTS = 1 if FULL else 3
"""Campaigns of consecutive seeds the short run may take to see a write fail
for lack of pool: which writes run out of pool depends on the engine's memory
at the time as well as on the seed. Every campaign is verified in full either
way."""
NEEDS_COPY_LOSS = FULL and ENGINE == "ladybug"
"""Whether the run must meet LadybugDB's false "durable" after a COPY (item 18).
Only the 100-kill run: 6 kills met it in some runs and missed it in three
seeds in a row in others (2026-12-07, load ~5), and a test that fails by luck
helps nobody. ``tests/test_copy_checkpoint_lost.py`` requires that case on
LadybugDB in every run (one process, one 20k-row COPY, the pool tried down
from 80 MiB until it occurs)."""


def _shown(figures: dict) -> bool:
    """Whether a campaign met the pool failures this test is for."""
    failures = figures["pool_failures"]
    return sum(failures.values()) > 0 and (not NEEDS_COPY_LOSS or failures.get("copy-not-durable", 0) > 0)


@pytest.mark.engine
def test_kill_campaign_with_a_small_buffer_pool(tmp_path: Path) -> None:
    for attempt in range(ATTEMPTS):
        work = tmp_path / f"seed{SEED + attempt}"
        work.mkdir()
        figures = campaign(KILLS, seed=SEED + attempt, engine=ENGINE, work=work, kills_per_store=3, pool_mib=POOL_MIB)
        if _shown(figures):
            break
    print(json.dumps(figures, indent=2))
    if os.environ.get("GRAPHMEM_RELIABILITY_REPORT"):
        Path(os.environ["GRAPHMEM_RELIABILITY_REPORT"]).write_text(json.dumps(figures, indent=2) + "\n")
    # verify() raised on any lost acknowledged write or half-applied one; what
    # is left to check is that the pool failures this campaign is for happened.
    assert figures["kills"] == KILLS
    failures = figures["pool_failures"]
    assert sum(failures.values()) > 0, figures
    # Any other failure is one the campaign does not know (a new engine message,
    # an untranslated error): look at figures["failure_examples"].
    assert {kind.removeprefix("open:") for kind in failures} <= KINDS, figures["failure_examples"]
    if NEEDS_COPY_LOSS:
        # The case of item 18: without it the long campaign tests nothing new there.
        assert failures.get("copy-not-durable", 0) > 0, figures
    assert figures["killed_mid_operation"] > 0
    assert figures["checks"]["searches"] > 0 and figures["checks"]["paths"] > 0


@pytest.mark.parametrize(
    ("message", "kind"),
    [
        ("the engine's checkpoint after a COPY failed at /s, so this write was NOT made durable, whatever the "
         "engine said (Transaction committed successfully, but the post-commit checkpoint failed ...)",
         "copy-not-durable"),
        ("the engine's buffer pool is full at /s (...) [the COMMIT failed: the write may nevertheless have been "
         "applied; graphmem reloads its indexes from the store, so reads show what it holds]", "commit-failed"),
        ("the engine's buffer pool is full at /s (the engine said: Buffer manager exception: ...)", "pool-refused"),
        ("the disk holding the store at /s is full", "GraphMemError"),
    ],
)  # fmt: skip
def test_failures_are_told_apart_by_graphmems_words(message: str, kind: str) -> None:
    from graphmem.errors import GraphMemError

    assert failure_kind(GraphMemError(message)) == kind
