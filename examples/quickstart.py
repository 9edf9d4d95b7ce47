"""graphmem in one page: what an agent does with its memory.

Run it from the project root::

    .venv/bin/python examples/quickstart.py            # no embedding model: starts in a second
    .venv/bin/python examples/quickstart.py --model    # embed entity texts with all-MiniLM-L6-v2

The store lives in a temporary directory and is removed at the end; pass a
real directory to ``graphmem.open`` to keep it between runs.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import graphmem


def main(use_model: bool = False, engine: str = "kuzu") -> None:
    embedder = "default" if use_model else None
    with tempfile.TemporaryDirectory() as tmp, graphmem.open(Path(tmp) / "memory", engine=engine,
                                                             embedder=embedder) as mem:
        # One entity at a time: add_entity creates it, or updates it if the name exists.
        mem.add_entity("Ada Okafor", type="Person", text="Backend engineer at Northwind; owns the billing service",
                       observations=["prefers written specs"], properties={"role": "backend engineer"})
        mem.add_entity("Northwind", type="Company", text="Online grocery delivery in Lisbon")

        # Many at once: one transaction each, so a bad record writes nothing.
        mem.add_entities([
            {"name": "Billing service", "type": "Project", "text": "Invoices and payment retries"},
            {"name": "PostgreSQL", "type": "Technology"},
            {"name": "Tomás Reis", "type": "Person", "text": "Engineering manager at Northwind"},
        ])  # fmt: skip
        mem.add_relations([
            ("Ada Okafor", "WORKS_AT", "Northwind", {"since": 2022}),
            ("Tomás Reis", "WORKS_AT", "Northwind"),
            ("Ada Okafor", "REPORTS_TO", "Tomás Reis"),
            ("Ada Okafor", "LEADS", "Billing service"),
            {"source": "Billing service", "type": "USES", "target": "PostgreSQL"},
        ])  # fmt: skip

        # Upsert: observations are appended (duplicates skipped), properties merged, the rest kept.
        ada = mem.add_entity("Ada Okafor", observations=["prefers written specs", "on call this week"],
                             properties={"on_call": True})
        print(f"{ada.name} ({ada.type}): {ada.text}")
        print(f"  observations: {list(ada.observations)}")
        print(f"  properties:   {ada.properties}")

        print("\nAround Ada:")
        for n in mem.neighbors("Ada Okafor"):
            arrow = f"-[{n.type}]->" if n.direction == "out" else f"<-[{n.type}]-"
            print(f"  Ada {arrow} {n.name}")
        print("Who works at Northwind:", [n.name for n in mem.neighbors("Northwind", direction="in", types="WORKS_AT")])

        rows = mem.cypher(
            "MATCH (p:Entity {type: 'Person'})-[:Relation {type: 'LEADS'}]->(x:Entity)"
            "-[:Relation {type: 'USES'}]->(t:Entity {name: $tech}) "
            "RETURN p.name AS person, x.name AS project",
            {"tech": "PostgreSQL"},
        )
        print("\nWho leads a project on PostgreSQL:", rows)

        # Deleting an entity deletes its relations too.
        mem.delete_entity("Tomás Reis")
        print("After Tomás left:", [n.name for n in mem.neighbors("Northwind")])

        try:
            mem.add_relation("Ada Okafor", "KNOWS", "Nobody")
        except graphmem.NotFound as exc:
            print(f"\nNotFound (also a KeyError): {exc}")

        stats = mem.stats()
        print(f"\n{len(mem)} entities, {stats['relations']} relations; entity types: {stats['entity_types']}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="graphmem quickstart")
    parser.add_argument("--model", action="store_true", help="embed texts with the default model (slower start)")
    parser.add_argument("--engine", default="kuzu", choices=["kuzu", "ladybug"])
    args = parser.parse_args()
    main(use_model=args.model, engine=args.engine)
