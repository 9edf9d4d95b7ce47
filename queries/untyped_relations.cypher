MATCH (a:Entity)-[r:Relation]->(b:Entity)
WHERE r.type IS NULL
RETURN a.name, b.name
LIMIT 5
