MATCH (e:Entity) WHERE e.expired_at IS NULL RETURN e.type, count(*) ORDER BY e.type
