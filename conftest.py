"""Collection rules for the doctests under graphmem/ (pytest's testpaths include it).

graphmem.integrations.langgraph imports LangGraph, an optional extra: without
it the module cannot be imported, so its doctests are not collected (its tests
in tests/ skip with the reason).
"""

import importlib.util

collect_ignore = []
if importlib.util.find_spec("langgraph") is None:
    collect_ignore.append("graphmem/integrations/langgraph.py")
