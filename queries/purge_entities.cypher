// Expired entities (their relations were expired with them, or earlier).
MATCH (e:Entity)
WHERE e.namespace = $namespace AND e.expired_at IS NOT NULL AND e.expired_at < $before
DETACH DELETE e
RETURN count(*)
