MATCH (a:Entity {key: $source}), (b:Entity {key: $target})
CREATE (a)-[:Relation {type: $type, properties: $properties, created_at: $created_at}]->(b)
