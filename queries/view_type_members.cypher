// The viewer's drill-down into one entity type: its current entities, by name.
MATCH (e:Entity)
WHERE e.namespace = $namespace AND e.expired_at IS NULL AND e.type = $type
RETURN e.name ORDER BY e.name LIMIT $limit
