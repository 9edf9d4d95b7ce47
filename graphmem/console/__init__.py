"""The Cypher console (``graphmem console PATH``) and the printing shared with the CLI.

Modules: :mod:`~graphmem.console.app` (the prompt and scripted runs),
:mod:`~graphmem.console.commands` (the session and its meta-commands),
:mod:`~graphmem.console.completion` and :mod:`~graphmem.console.catalog`
(Tab completion from the store), :mod:`~graphmem.console.results` (search
hits, paths and neighbours as results), :mod:`~graphmem.console.render`
(tables, JSON, CSV, paging), :mod:`~graphmem.console.script` (splitting
input into statements), :mod:`~graphmem.console.schema` (``:schema``).
Nothing is imported here, so the CLI can print results without loading
prompt_toolkit, and name its output formats without loading rich.
"""

FORMATS = ("table", "json", "csv")
"""How results print: a rich table, JSON or CSV (see :mod:`~graphmem.console.render`)."""
