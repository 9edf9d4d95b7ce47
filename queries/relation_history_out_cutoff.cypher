// The write time of the limit-th newest relation leaving one entity (Memory.history with a limit):
// the rows at or after it hold every row relation_history_out_recent keeps. Only the relation's own
// columns are read: naming a hub's every neighbour is a random read of the entity table per
// relation (~0.4 ms each at 1M entities; 0.57 s for a 12k-relation side), the cut is ~5 ms.
MATCH (a:Entity {key: $key})-[r:Relation]->(:Entity)
RETURN r.created_at AS created_at
ORDER BY r.created_at DESC
LIMIT $limit
