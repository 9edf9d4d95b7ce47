MATCH (e:Entity)
WHERE e.namespace = $namespace AND e.expired_at IS NULL
RETURN e.packed IS NOT NULL AS cold,
       coalesce(e.last_access, e.updated_at) >= $hot_since OR e.updated_at >= $hot_since AS hot,
       count(*) AS n
