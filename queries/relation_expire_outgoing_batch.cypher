// Directed halves, as relation_expire_outgoing (kuzu refuses SET through an undirected pattern on disk).
UNWIND $keys AS k
MATCH (a:Entity {key: k})-[r:Relation]->(b:Entity)
WHERE r.expired_at IS NULL
SET r.expired_at = $now
