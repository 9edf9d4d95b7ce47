UNWIND $keys AS k
MATCH (e:Entity {key: k})
DETACH DELETE e
