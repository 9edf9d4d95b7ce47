// The hard delete: every version of the relation, history included.
MATCH (a:Entity {key: $source})-[r:Relation]->(b:Entity {key: $target})
WHERE r.type = $type
DELETE r
