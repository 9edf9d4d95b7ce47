MATCH (a:Entity {key: $key})-[r:Relation]->(b:Entity)
WHERE $direction <> 'in'
RETURN b.name AS name, r.type AS type, 'out' AS direction
UNION ALL
MATCH (a:Entity {key: $key})<-[r:Relation]-(b:Entity)
WHERE $direction <> 'out'
RETURN b.name AS name, r.type AS type, 'in' AS direction
