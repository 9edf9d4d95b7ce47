"""``python -m graphmem``: the same command line as the ``graphmem`` script."""

from graphmem.cli.main import main

if __name__ == "__main__":  # importing this module (e.g. pytest --doctest-modules) must not run the CLI
    main()
