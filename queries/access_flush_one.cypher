// One entity's accesses gathered since the last flush (graphmem/lifecycle.py),
// matched on the key as a single parameter: kuzu 0.11.3 then uses the key
// index, where access_flush's LOAD FROM + MATCH scans every entity (33-40 ms
// at 100k entities for one row).
MATCH (e:Entity {key: $key})
SET e.access_count = coalesce(e.access_count, 0) + $hits, e.last_access = $last
