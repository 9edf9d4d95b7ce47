MATCH (e:Entity {key: $key})
WHERE e.expired_at IS NULL
RETURN e.access_count, e.last_access, e.updated_at, e.packed IS NOT NULL
