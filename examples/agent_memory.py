"""An agent that remembers what it is told, turn by turn, and answers from its memory.

No LLM is needed: each scripted turn carries what the user said and the facts
an extraction step would pull out of it (entities with observations, typed
relations). The agent writes those facts as it goes, then answers questions
the way an agent would before calling its model:

- ``recall``: what do I know about this? A small ranked subgraph, pasted into
  the prompt as text with a character budget;
- ``search(near=...)``: what is like X *and* connected to Y? Every hit comes
  with the path that connects it, the explanation to show the user;
- ``paths_between``: how do I know that two things are related?

Run it from the project root::

    .venv/bin/python examples/agent_memory.py              # a temporary store, removed at the end
    .venv/bin/python examples/agent_memory.py --path mem   # keep the store; a second run changes nothing

Texts are embedded with the packaged all-MiniLM-L6-v2 model (offline; loading
it takes a few seconds).
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import graphmem
from graphmem.types import Recall


@dataclass(frozen=True, slots=True)
class Fact:
    """An entity the agent learned about in one turn (created, or updated if the name exists)."""

    name: str
    type: str
    text: str | None = None
    observations: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Turn:
    """One user message and what an extraction step found in it."""

    said: str
    facts: tuple[Fact, ...] = ()
    relations: tuple[tuple[str, str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Learned:
    """What a turn changed in memory: entities new to it, entities updated, relations written."""

    new: tuple[str, ...]
    updated: tuple[str, ...]
    relations: int


@dataclass(frozen=True, slots=True)
class Answer:
    """What the agent found for a question: the hits, each with how it is connected."""

    question: str
    hits: tuple[graphmem.Hit, ...] = field(default_factory=tuple)


# The conversation. Each turn holds only facts the user stated in it; later turns
# add observations to entities met before (upserts append, they do not replace).
TURNS: tuple[Turn, ...] = (
    Turn("I'm Maya, I lead the platform team at Orbit Labs.",
         (Fact("Maya", "Person", "Leads the platform team at Orbit Labs"),
          Fact("Platform team", "Team", "Runs Orbit Labs' shared infrastructure"),
          Fact("Orbit Labs", "Company", "The user's employer")),
         (("Maya", "LEADS", "Platform team"), ("Platform team", "PART_OF", "Orbit Labs"))),
    Turn("Ravi joined my team last week; he's our Kafka expert.",
         (Fact("Ravi", "Person", "Platform engineer", ("joined the platform team last week",)),
          Fact("Kafka", "Technology", "Distributed event streaming platform")),
         (("Ravi", "MEMBER_OF", "Platform team"), ("Ravi", "EXPERT_IN", "Kafka"))),
    Turn("We're moving the billing pipeline from RabbitMQ to Kafka by March.",
         (Fact("Billing pipeline", "Project", "Streams invoices and payment events",
               ("migrating from RabbitMQ to Kafka, due in March",)),
          Fact("RabbitMQ", "Technology", "Message broker")),
         (("Platform team", "OWNS", "Billing pipeline"), ("Billing pipeline", "USES", "Kafka"),
          ("Billing pipeline", "MIGRATES_FROM", "RabbitMQ"))),
    Turn("Lena from the data team says the nightly ETL job keeps failing when schemas change.",
         (Fact("Lena", "Person", "Data engineer on the data team"),
          Fact("Data team", "Team", "Analytics and reporting"),
          Fact("Nightly ETL", "Project", "Batch job loading the data warehouse every night",
               ("keeps failing when upstream schemas change",))),
         (("Lena", "MEMBER_OF", "Data team"), ("Data team", "PART_OF", "Orbit Labs"),
          ("Data team", "OWNS", "Nightly ETL"))),
    Turn("Oh, and the nightly ETL reads the billing pipeline's topics.",
         relations=(("Nightly ETL", "READS_FROM", "Billing pipeline"),)),
    Turn("Last Friday consumer lag spiked on the payments topic; Ravi fixed it by adding partitions.",
         (Fact("Payments lag incident", "Incident", "Consumer lag spike on the payments topic last Friday",
               ("resolved by adding partitions",)),),
         (("Payments lag incident", "AFFECTED", "Billing pipeline"), ("Ravi", "RESOLVED", "Payments lag incident"))),
    Turn("Ravi will be on holiday in Lisbon for the first two weeks of March.",
         (Fact("Ravi", "Person", observations=("on holiday in Lisbon for the first two weeks of March",)),
          Fact("Lisbon", "Place", "Capital of Portugal")),
         (("Ravi", "TRAVELS_TO", "Lisbon"),)),
    Turn("Tom in marketing is planning the spring launch campaign.",
         (Fact("Tom", "Person", "Marketing manager"),
          Fact("Spring launch", "Project", "Marketing campaign for the spring product launch")),
         (("Tom", "WORKS_ON", "Spring launch"), ("Tom", "WORKS_AT", "Orbit Labs"))),
    Turn("Maya prefers decisions written up as short RFCs.",
         (Fact("Maya", "Person", observations=("prefers decisions written up as short RFCs",)),)),
)  # fmt: skip


class Agent:
    """A scripted agent over a graphmem memory.

    Parameters
    ----------
    mem
        An open memory with an embedder (searches and recalls take text).
    """

    def __init__(self, mem: graphmem.Memory) -> None:
        self.mem = mem

    def observe(self, turn: Turn) -> Learned:
        """Write what ``turn`` taught: its entities (upserted) and relations, one transaction each.

        Returns
        -------
        Learned
            Which names were new, which already known (their observations were
            appended), and how many relations were written.
        """
        known = [f.name for f in turn.facts if self.mem.get_entity(f.name) is not None]
        if turn.facts:
            self.mem.add_entities([
                {"name": f.name, "type": f.type, "text": f.text, "observations": list(f.observations)}
                for f in turn.facts
            ])  # fmt: skip
        if turn.relations:
            self.mem.add_relations(list(turn.relations))
        new = tuple(f.name for f in turn.facts if f.name not in known)
        return Learned(new, tuple(known), len(turn.relations))

    def context(self, question: str) -> Recall:
        """What the memory knows about ``question``: the 3 entities closest in meaning,
        their neighbours, capped at 6 entities and 8 relations (a small prompt)."""
        return self.mem.recall(question, k=3, hops=1, max_entities=6, max_relations=8)

    def search_near(self, question: str, near: str | Sequence[str], *, max_hops: int = 2,
                    rank: str = "similarity") -> Answer:  # fmt: skip
        """The entities within ``max_hops`` of ``near`` that best match ``question``, with their paths."""
        hits = self.mem.search(question, k=3, near=near, max_hops=max_hops, rank=rank)
        return Answer(question, tuple(hits))


def describe(mem: graphmem.Memory, path: graphmem.Path) -> str:
    """``path`` with each relation's arrow pointing the way it was stored.

    A :class:`graphmem.Path` found with ``direction="both"`` names the relation
    types along it but not their direction; one lookup per hop restores it.
    """
    out = [path.nodes[0]]
    for a, relation, b in zip(path.nodes, path.relations, path.nodes[1:]):
        forward = mem.get_relation(a, relation, b) is not None
        out.append(f"-{relation}-> {b}" if forward else f"<-{relation}- {b}")
    return " ".join(out)


def _show_hits(mem: graphmem.Memory, answer: Answer) -> None:
    for hit in answer.hits:
        entity = mem.get_entity(hit.name)
        about = f" — {entity.text}" if entity is not None and entity.text else ""
        print(f"  {hit.name} (score {hit.score:.3f}, {hit.hops} hop{'s' if hit.hops != 1 else ''}){about}")
        if hit.path is not None and hit.hops:
            print(f"      because: {describe(mem, hit.path)}")


def run(path: Path, engine: str, embedder: Any = "default") -> None:
    """Play the conversation into the store at ``path``, then answer from it.

    Parameters
    ----------
    path
        The store directory (created if missing; an existing store is updated:
        replaying the same turns changes nothing, since every write is an upsert).
    engine
        ``"kuzu"`` or ``"ladybug"``.
    embedder
        ``"default"`` (the packaged model) or an :class:`graphmem.Embedder`.
    """
    with graphmem.open(path, engine=engine, embedder=embedder) as mem:
        agent = Agent(mem)
        print(f"Memory: {path} (engine {engine}, {len(mem)} entities to start with)\n")
        for number, turn in enumerate(TURNS, start=1):
            learned = agent.observe(turn)
            parts = []
            if learned.new:
                parts.append("new " + ", ".join(learned.new))
            if learned.updated:
                parts.append("updated " + ", ".join(learned.updated))
            if learned.relations:
                parts.append(f"{learned.relations} relation{'s' if learned.relations != 1 else ''}")
            print(f"turn {number}: {turn.said}")
            print(f"        remembered: {'; '.join(parts) or 'nothing new'}")
        stats = mem.stats()
        print(f"\nMemory now holds {stats['entities']} entities and {stats['relations']} relations.\n")

        question = "Who knows Kafka well?"
        recall = agent.context(question)
        text = recall.to_text(max_chars=1000)
        print(f"Q: {question}\nrecall(k=3, hops=1) -> {len(recall.entities)} entities, "
              f"{len(recall.relations)} relations; prompt context ({len(text)} chars):")  # fmt: skip
        print("  " + text.replace("\n", "\n  ") + "\n")

        answer = agent.search_near("a batch job that keeps failing", near="Billing pipeline", max_hops=2)
        print(f"Q: {answer.question} — search(near='Billing pipeline', max_hops=2):")
        _show_hits(mem, answer)

        answer = agent.search_near("who is away on holiday?", near="Maya", max_hops=2)
        print(f"\nQ: {answer.question} — search(near='Maya', max_hops=2):")
        _show_hits(mem, answer)

        # Hybrid ranking discounts each hop (similarity * 0.5 ** hops): the same
        # question, but what is close to Maya in the graph now counts as well.
        answer = agent.search_near("who is away on holiday?", near="Maya", max_hops=2, rank="hybrid")
        print(f"\nQ: {answer.question} — search(near='Maya', max_hops=2, rank='hybrid'):")
        _show_hits(mem, answer)

        print("\nQ: how is Lena connected to Ravi? — paths_between('Lena', 'Ravi'):")
        for explanation in mem.paths_between("Lena", "Ravi"):
            print(f"  {describe(mem, explanation.path)}")
            for entity in explanation.entities:
                print(f"    {entity.name} [{entity.type}]: {entity.text}")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="graphmem: an agent that writes what it learns, then recalls it")
    parser.add_argument("--path", type=Path, default=None, help="store directory to keep (default: a temporary one)")
    parser.add_argument("--engine", default="kuzu", choices=["kuzu", "ladybug"])
    args = parser.parse_args(argv)
    with ExitStack() as stack:
        path = args.path
        if path is None:
            path = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="agent-memory-"))) / "memory"
        run(path, args.engine)


if __name__ == "__main__":
    main()
