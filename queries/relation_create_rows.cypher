// New relations of a small batch (graphmem.records.RELATION_ROWS_MAX; the
// parameters of relation_row_columns / relation_table_columns): one list per
// column of relation_create_batch's table, the batch's row i at position i + 1
// of every list (lists are 1-based). Position 1 holds a typed placeholder,
// never written: a list whose values are all NULL (no relation of the batch
// has a valid_from, say) has no type of its own, which the engines refuse.
// Prepared once and reused, it skips the planning of a LOAD FROM over an Arrow
// table; unlike a list of structs (the form before), the binding converts 8
// lists, not 8 fields per row. Each endpoint key is projected (WITH) before
// its MATCH: LadybugDB 0.22 then looks it up by primary key (EXPLAIN), where
// `{key: $from[i]}` in the pattern planned a scan of the entities crossed
// with the rows. kuzu 0.11.3 plans a hash join over a scan either way.
UNWIND range(2, size($from)) AS i
WITH i, $from[i] AS source
MATCH (a:Entity {key: source})
WITH a, i, $to[i] AS target
MATCH (b:Entity {key: target})
CREATE (a)-[:Relation {type: $type[i], properties: $properties[i], created_at: $created_at[i],
                       valid_from: $valid_from[i], valid_to: $valid_to[i], expired_at: $expired_at[i]}]->(b)
