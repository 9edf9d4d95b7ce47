MATCH (a:Entity)-[r:Relation]->(b:Entity)
RETURN a.name AS source, r.type AS type, b.name AS target, r.properties AS properties, r.created_at AS created_at
ORDER BY a.id, b.id, r.type
