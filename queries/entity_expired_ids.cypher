MATCH (e:Entity) WHERE e.expired_at IS NOT NULL RETURN e.key AS key, e.id AS id
