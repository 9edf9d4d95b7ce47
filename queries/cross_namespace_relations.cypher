MATCH (a:Entity)-[r:Relation]->(b:Entity)
WHERE a.namespace <> b.namespace
RETURN a.key, b.key
LIMIT 5
