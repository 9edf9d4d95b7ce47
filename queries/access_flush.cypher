// Accesses gathered in memory since the last flush (graphmem/lifecycle.py), one statement.
LOAD FROM $rows
MATCH (e:Entity {key: key})
SET e.access_count = coalesce(e.access_count, 0) + hits, e.last_access = last
