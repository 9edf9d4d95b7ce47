MATCH (a:Entity)-[r:Relation]->(b:Entity) RETURN a.id AS source, b.id AS target, r.type AS type
