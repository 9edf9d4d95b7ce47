// The viewer's overview, relation side, in one scan: how entity types connect
// (source type, relation type, target type, current relations), most used
// first, with the span of the relations' bounded validities. Relations never
// cross namespaces, so the source's namespace is the relation's.
MATCH (a:Entity)-[r:Relation]->(b:Entity)
WHERE r.expired_at IS NULL AND a.namespace = $namespace
RETURN a.type, r.type, b.type, count(*) AS n, min(r.valid_from), max(r.valid_from), min(r.valid_to),
       max(r.valid_to), count(r.valid_from) + count(r.valid_to)
ORDER BY n DESC, a.type, r.type, b.type
