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


@pytest.mark.engine
def test_kill_campaign_with_a_small_buffer_pool(tmp_path: Path) -> None:
    figures = campaign(KILLS, seed=SEED, engine=ENGINE, work=tmp_path, kills_per_store=3, pool_mib=POOL_MIB)
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
    if ENGINE == "ladybug":
        # The case of item 18: without it the campaign tests nothing new there.
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
