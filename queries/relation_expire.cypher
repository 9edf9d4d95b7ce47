MATCH (a:Entity {key: $source})-[r:Relation]->(b:Entity {key: $target})
WHERE r.type = $type AND r.expired_at IS NULL
SET r.expired_at = $now
