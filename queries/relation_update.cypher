MATCH (a:Entity {key: $source})-[r:Relation]->(b:Entity {key: $target})
WHERE r.type = $type
SET r.properties = $properties
