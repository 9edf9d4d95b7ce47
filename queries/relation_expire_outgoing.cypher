// Directed halves: kuzu 0.11.3 hits an internal assertion (csr_node_group.cpp)
// on SET through an undirected pattern in an on-disk store.
MATCH (a:Entity {key: $key})-[r:Relation]->(b:Entity)
WHERE r.expired_at IS NULL
SET r.expired_at = $now
