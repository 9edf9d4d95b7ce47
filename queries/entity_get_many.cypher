UNWIND $keys AS k
MATCH (e:Entity {key: k})
RETURN e.id, e.namespace, e.name, e.type, e.text, e.observations, e.properties,
       e.embedding, e.scale, e.created_at, e.updated_at, e.valid_from, e.valid_to, e.expired_at, e.importance, e.packed
