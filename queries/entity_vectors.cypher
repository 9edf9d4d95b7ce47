// Current vectors of entities with ids in [$lo, $hi) (read in ranges: Store.execute_arrow_by_id).
MATCH (e:Entity)
WHERE e.id >= $lo AND e.id < $hi AND e.embedding IS NOT NULL AND e.expired_at IS NULL
RETURN e.id AS id, e.embedding AS embedding, e.scale AS scale, e.updated_at AS updated_at
