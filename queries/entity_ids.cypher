MATCH (e:Entity) RETURN e.key AS key, e.id AS id, e.type AS type
