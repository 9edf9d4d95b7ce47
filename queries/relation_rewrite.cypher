// One re-written relation that brings no new properties: retire the current
// version and record the new one (its properties carried over, the validity
// given) in one keyed statement.
MATCH (a:Entity {key: $source})-[r:Relation]->(b:Entity {key: $target})
WHERE r.type = $type AND r.expired_at IS NULL
SET r.expired_at = $now
CREATE (a)-[:Relation {type: $type, properties: r.properties, created_at: $now,
                       valid_from: $valid_from, valid_to: $valid_to}]->(b)
