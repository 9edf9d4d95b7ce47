MATCH (a:Entity {key: $key})<-[r:Relation]-(b:Entity)
RETURN b.name AS name, r.type AS type, 'in' AS direction
