"""graphmem's benchmark suite: ``python -m benchmarks.run`` (see benchmarks/README.md).

Each suite is a module ``benchmarks/bench_<suite>.py`` with a ``SUITE``
attribute (:class:`benchmarks.suite.Suite`); :mod:`benchmarks.run` finds them,
runs every engine in its own process (kuzu and ladybug cannot share one),
writes ``results/<suite>-<engine>.json`` and regenerates ``RESULTS.md``.
"""
