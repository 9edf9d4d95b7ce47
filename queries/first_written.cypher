// Memory.first_written(): when the oldest current entity of a namespace was created (a scan; the
// derived state keeps no creation times). The viewer's time slider starts there.
MATCH (e:Entity)
WHERE e.namespace = $namespace AND e.expired_at IS NULL
RETURN min(e.created_at)
