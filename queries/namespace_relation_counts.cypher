MATCH (a:Entity)-[r:Relation]->(:Entity) WHERE r.expired_at IS NULL
RETURN a.namespace AS namespace, count(*) AS n
