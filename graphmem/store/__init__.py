"""The storage layer (L1): the only code that imports the graph engine."""

from .store import CypherResult, Store, Tracer, Transaction

__all__ = ["Store", "Tracer", "Transaction", "CypherResult"]
