MATCH (a:Entity)-[r:Relation]->(:Entity)
WHERE a.namespace = $namespace AND r.expired_at IS NOT NULL AND r.expired_at < $before
DELETE r
RETURN count(*)
