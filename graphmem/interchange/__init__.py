"""Moving memories in and out of a store: JSONL import and export
(``transfer``), used by ``graphmem import`` / ``export``, the cluster's
commands and the viewer's page export. It sits above the API layer and reads
and writes through a memory (embedded or cluster); a new file format goes here."""
