MATCH (e:Entity) WHERE e.namespace = $namespace RETURN e.key LIMIT 1
