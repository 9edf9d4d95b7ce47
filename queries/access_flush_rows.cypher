// access_flush for a batch of fewer than upkeep.ACCESS_ROWS_MAX keys
// (lifecycle.AccessLog.rows): one list per column, key i at position i of
// every list (lists are 1-based; position 1 is a typed placeholder, never
// written, as in entity_create_rows). Plain lists, not an Arrow table: kuzu
// 0.11.3 imports pandas, where installed, to bind a table parameter (0.4 s,
// once per process, inside the write that flushes). The key is projected
// (WITH) before the MATCH, as in entity_update_rows: LadybugDB 0.22 then
// looks it up by primary key; kuzu 0.11.3 joins it with a scan of the
// entities, as it does access_flush's LOAD FROM.
UNWIND range(2, size($key)) AS i
WITH i, $key[i] AS k
MATCH (e:Entity {key: k})
SET e.access_count = coalesce(e.access_count, 0) + $hits[i], e.last_access = $last[i]
