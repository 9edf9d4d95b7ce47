MATCH (e:Entity) WHERE e.namespace = $namespace AND e.expired_at IS NULL RETURN count(*)
