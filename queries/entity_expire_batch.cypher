UNWIND $keys AS k
MATCH (e:Entity {key: k})
WHERE e.expired_at IS NULL
SET e.expired_at = $now
