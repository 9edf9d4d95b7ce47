"""A LangGraph agent whose long-term memory is graphmem (no LLM: one deterministic node).

Run it from the project root (needs ``pip install 'graphmem[langgraph]'``)::

    .venv/bin/python examples/langgraph_agent.py                # word-hash embeddings: starts in a second
    .venv/bin/python examples/langgraph_agent.py --model        # all-MiniLM-L6-v2, graphmem's default embedder

The node reads each turn: ``remember`` turns store a memory through the
graph's store (and link it to the memory it is about), questions recall the
memories most like them. The last lines use what only graphmem's store has:
a search limited to the memories within one link of another.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path
from typing import Any, TypedDict

from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime

from graphmem.embed import HashEmbedder
from graphmem.integrations.langgraph import GraphMemStore

USER = ("user", "ada")  # one namespace per user: graphmem namespace "lg/user/ada"

TURNS: list[dict[str, Any]] = [
    {"remember": "beach trip to the Algarve in July", "key": "trip"},
    {"remember": "pack a swimsuit for the beach trip", "key": "swimsuit", "about": "trip"},
    {"remember": "pack sunscreen for the beach trip", "key": "sunscreen", "about": "swimsuit"},
    {"remember": "the office printer is on floor two", "key": "printer"},
    {"ask": "what should I pack for the beach trip?"},
]


class State(TypedDict, total=False):
    turn: dict[str, Any]
    answer: str


def agent(state: State, runtime: Runtime) -> State:
    """The deterministic node: store a memory, or answer from the two closest ones."""
    store = runtime.store
    turn = state["turn"]
    if "remember" in turn:
        store.put(USER, turn["key"], {"text": turn["remember"]})
        if "about" in turn:
            store.link(USER, turn["key"], "ABOUT", turn["about"])
        return {"answer": f"remembered {turn['key']}"}
    found = store.search(USER, query=turn["ask"], limit=2)
    return {"answer": f"recalled for {turn['ask']!r}: {', '.join(sorted(item.key for item in found))}"}


def build(store: GraphMemStore) -> Any:
    graph = StateGraph(State)
    graph.add_node("agent", agent)
    graph.add_edge(START, "agent")
    graph.add_edge("agent", END)
    return graph.compile(store=store)


def main(use_model: bool = False, engine: str | None = None) -> None:
    if use_model:
        index = {"dims": 384, "fields": ["text"]}  # no embed: graphmem's default embedder
    else:
        words = HashEmbedder(dim=64)
        index = {"dims": 64, "embed": lambda texts: words.encode(list(texts)).tolist(), "fields": ["text"]}
    with tempfile.TemporaryDirectory() as tmp:
        with GraphMemStore(Path(tmp) / "memory", index=index, engine=engine) as store:
            app = build(store)
            for turn in TURNS:
                print(app.invoke({"turn": turn})["answer"])
        # The memories outlive the process that wrote them: reopen the store.
        with GraphMemStore(Path(tmp) / "memory", index=index, engine=engine) as store:
            near = store.search(USER, query="what should I pack?", near="trip", max_hops=1)
            print(f"within 1 hop of 'trip': {', '.join(sorted(item.key for item in near))}")
            print("namespaces:", store.list_namespaces())


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="store_true", help="embed with all-MiniLM-L6-v2 (graphmem's default)")
    parser.add_argument("--engine", default=os.environ.get("GRAPHMEM_ENGINE"), help="kuzu or ladybug")
    args = parser.parse_args()
    main(use_model=args.model, engine=args.engine)
