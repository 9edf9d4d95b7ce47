MATCH (e:Entity) WHERE e.expired_at IS NULL RETURN e.namespace AS namespace, count(*) AS n
