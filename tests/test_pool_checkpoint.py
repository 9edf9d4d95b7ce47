"""Updates do not fill the engine's buffer pool: the store checkpoints by the rows they changed.

Both engines keep what an update changed in the buffer pool until the next
checkpoint, and graphmem checkpointed only when the write-ahead log passed
16 MiB, which updates reach slowly (they log the values, not the pages). An
agent that kept updating entities met "buffer pool is full" on every write,
then on the checkpoint at close, then on the next open's first write
(measured with a 512 MiB pool, 10 entities updated at random per call:
kuzu 0.11.3 after 3,315 calls at 1k entities and ~330 at 100k; LadybugDB
0.22 after ~306 at 100k). A 64 MiB pool and a 1k store show the same in
seconds: kuzu failed at call 245, LadybugDB at 336.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

import graphmem
from graphmem.store.store import CHANGED_ROW_POOL_BYTES

from .conftest import ENGINE

pytestmark = pytest.mark.engine

POOL = 64 << 20


def test_entities_updated_again_and_again_never_fill_the_pool(tmp_path: Path) -> None:
    path = tmp_path / "s"
    checkpoints: list[str] = []
    with graphmem.open(path, engine=ENGINE, embedder=None, config=graphmem.StoreConfig(buffer_pool_size=POOL),
                       tracer=lambda name, params: checkpoints.append(name) if name == "<checkpoint>" else None) as mem:
        mem.add_entities([{"name": f"e{i}", "type": "T", "observations": [f"obs {i}"]} for i in range(1000)])
        rng = random.Random(7)
        checkpoints.clear()
        for call in range(500):  # twice the calls that filled the pool without it
            mem.add_entities([{"name": f"e{rng.randrange(1000)}", "observations": [f"update {call}"]}
                              for _ in range(10)])  # fmt: skip
        budget = POOL // CHANGED_ROW_POOL_BYTES
        assert len(checkpoints) >= 500 * 10 // budget - 1  # the changed rows called them, not the log's size
        assert mem.get_entity(f"e{rng.randrange(1000)}").observations  # the handle reads on
    with graphmem.open(path, engine=ENGINE, embedder=None, config=graphmem.StoreConfig(buffer_pool_size=POOL)) as mem:
        mem.add_entities([{"name": "e1", "observations": ["after the reopen"]}])  # and writes on
        assert "after the reopen" in mem.get_entity("e1").observations
