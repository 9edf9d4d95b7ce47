MATCH (a:Entity {key: $key})<-[r:Relation]-(b:Entity)
WHERE r.expired_at IS NULL
SET r.expired_at = $now
