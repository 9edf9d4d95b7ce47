MATCH (e:Entity {key: $key}) DETACH DELETE e
