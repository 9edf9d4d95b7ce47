// The viewer's overview: how entity types connect (source type, relation type,
// target type, current relations), most used first. Relations never cross
// namespaces, so the source's namespace is the relation's.
MATCH (a:Entity)-[r:Relation]->(b:Entity)
WHERE r.expired_at IS NULL AND a.namespace = $namespace
RETURN a.type, r.type, b.type, count(*) AS n ORDER BY n DESC, a.type, r.type, b.type LIMIT $limit
