MATCH (e:Entity)
RETURN e.id, e.namespace, e.name, e.type, e.text, e.observations, e.properties,
       e.embedding, e.scale, e.created_at, e.updated_at
ORDER BY e.id
