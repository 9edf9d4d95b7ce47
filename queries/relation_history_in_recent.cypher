// The newest versions of the relations entering one entity from another (Memory.history with a
// limit; a self-loop is read by relation_history_out_recent). Largest first in history's order
// restricted to these rows (created_at, then source, then type).
// $since as in relation_history_out_recent; ID(b) <> ID(a) is b.key <> $key without reading b.key.
MATCH (a:Entity {key: $key})<-[r:Relation]-(b:Entity)
WHERE r.created_at >= $since AND ID(b) <> ID(a)
RETURN b.name AS source, r.type AS type, a.name AS target, r.properties AS properties,
       r.created_at AS created_at, r.valid_from AS valid_from, r.valid_to AS valid_to, r.expired_at AS expired_at
ORDER BY r.created_at DESC, b.name DESC, r.type DESC
LIMIT $limit
