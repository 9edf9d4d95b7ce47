MATCH (a:Entity {key: $source}), (b:Entity {key: $target})
CREATE (a)-[:Relation {type: $type, properties: $properties, created_at: $created_at,
                       valid_from: $valid_from, valid_to: $valid_to}]->(b)
