// The cold tier: text and observations move into the packed (zstd) column.
LOAD FROM $rows
MATCH (e:Entity {key: key})
SET e.packed = packed, e.text = NULL, e.observations = observations
