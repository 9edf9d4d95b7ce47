"""The ``graphmem`` command line (``main``: the console script and
``python -m graphmem``). A command parses its arguments and calls one library
function through the public API; nothing else happens here. A new command goes
in ``main.py`` beside the others (the cluster's commands live with the
backend, in ``graphmem/backends/cluster/cli.py``, and are added to the group)."""
