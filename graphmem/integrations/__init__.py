"""Adapters that let agent frameworks keep their memory in graphmem.

Each adapter lives in its own module and imports its framework there, so
``import graphmem`` (and this package) never needs one installed:

- :mod:`graphmem.integrations.langgraph`: ``GraphMemStore``, a LangGraph
  ``BaseStore`` (``pip install 'graphmem[langgraph]'``).
"""
