MATCH (e:Entity)
WHERE e.embedding IS NOT NULL AND e.expired_at IS NULL
RETURN e.id AS id, e.embedding AS embedding, e.scale AS scale, e.updated_at AS updated_at
