// relation_history_out_cutoff for the relations entering one entity from another (a self-loop is
// the out side's). ID(b) <> ID(a): the same test as b.key <> $key without reading b's key.
MATCH (a:Entity {key: $key})<-[r:Relation]-(b:Entity)
WHERE ID(b) <> ID(a)
RETURN r.created_at AS created_at
ORDER BY r.created_at DESC
LIMIT $limit
