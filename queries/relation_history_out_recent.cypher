// The newest versions of the relations leaving one entity (Memory.history with a limit: a hub's
// whole relation history is unbounded). Largest first in history's own order restricted to these
// rows (created_at, then type, then target), so the cut keeps exactly history's last rows.
// $since (from relation_history_out_cutoff) leaves out the older rows before their targets are read.
MATCH (a:Entity {key: $key})-[r:Relation]->(b:Entity)
WHERE r.created_at >= $since
RETURN a.name AS source, r.type AS type, b.name AS target, r.properties AS properties,
       r.created_at AS created_at, r.valid_from AS valid_from, r.valid_to AS valid_to, r.expired_at AS expired_at
ORDER BY r.created_at DESC, r.type DESC, b.name DESC
LIMIT $limit
