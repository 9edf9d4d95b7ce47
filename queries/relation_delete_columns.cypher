// relation_delete_batch with one list per field ($source, $type, $target: the
// batch's row i at position i + 1, position 1 a placeholder the UNWIND skips;
// graphmem.memory.unlink), on kuzu for batches big enough for its plan: each
// row's source is hash-joined, by key, against a scan of every relation with
// its source's key (kuzu 0.11.3, EXPLAIN), a cost that does not grow with the
// rows, where relation_delete_batch crosses the rows with a scan of the
// entities (see unlink.COLUMNS_FROM). The source key is projected (WITH) first.
UNWIND range(2, size($source)) AS i
WITH i, $source[i] AS source
MATCH (a:Entity {key: source})
MATCH (a)-[r:Relation]->(b:Entity)
WHERE r.type = $type[i] AND b.key = $target[i]
DELETE r
