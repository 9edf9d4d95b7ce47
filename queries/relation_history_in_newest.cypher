// relation_history_out_newest for the relations entering one entity from another (a self-loop is
// the out side's). ID(b) <> ID(a): the self-loop test without reading b's key.
MATCH (a:Entity {key: $key})<-[r:Relation]-(b:Entity)
WHERE ID(b) <> ID(a)
WITH coalesce(r.created_at, timestamp('1970-01-01')) AS created_at, offset(ID(r)) AS id
WHERE created_at < timestamp($before_at) OR (created_at = timestamp($before_at) AND id < $before_id)
RETURN created_at, id
ORDER BY created_at DESC, id DESC
LIMIT $limit
