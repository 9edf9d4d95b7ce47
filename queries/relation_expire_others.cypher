// replaces=True: the source's other current relations of this type are retired.
MATCH (a:Entity {key: $source})-[r:Relation]->(b:Entity)
WHERE r.type = $type AND r.expired_at IS NULL AND b.key <> $target
SET r.expired_at = $now
RETURN b.id AS target
