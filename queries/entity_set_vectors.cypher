// Vectors computed after their entities committed (graphmem/backlog.py). Only
// the vector changes: updated_at is the version's system time (known_at reads)
// and stays; the caller checked in this transaction that each text is the one
// encoded and that the entity still has no vector.
LOAD FROM $rows
MATCH (e:Entity {key: key})
SET e.embedding = embedding, e.scale = scale
