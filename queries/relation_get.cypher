MATCH (a:Entity {key: $source})-[r:Relation]->(b:Entity {key: $target})
WHERE r.type = $type
RETURN r.properties, r.created_at
