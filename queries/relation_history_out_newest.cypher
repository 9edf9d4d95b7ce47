// A page of relation history (graphmem.memory.history.relation_page): which relations leaving one entity are the
// newest `limit` before the cursor ($before_at, $before_id), newest first; ties of created_at (a
// batch write gives a hub hundreds) by the engine's relation id. Only the relation's own columns
// and ids are read: naming the other end is a random read of the entity table per row, left to
// relation_history_out_rows for the rows kept. A relation written through Cypher without a created_at
// counts as written at the epoch (the oldest), as Memory.history sorts it. $before_at is text (ISO
// 8601, no zone: stored times are UTC), so the statement also runs through an MCP holder's cypher_query.
MATCH (a:Entity {key: $key})-[r:Relation]->(:Entity)
WITH coalesce(r.created_at, timestamp('1970-01-01')) AS created_at, offset(ID(r)) AS id
WHERE created_at < timestamp($before_at) OR (created_at = timestamp($before_at) AND id < $before_id)
RETURN created_at, id
ORDER BY created_at DESC, id DESC
LIMIT $limit
