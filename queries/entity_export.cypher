MATCH (e:Entity)
RETURN e.name AS name, e.type AS type, e.text AS text, e.observations AS observations,
       e.properties AS properties, e.embedding AS embedding, e.scale AS scale,
       e.created_at AS created_at, e.updated_at AS updated_at
ORDER BY e.id
