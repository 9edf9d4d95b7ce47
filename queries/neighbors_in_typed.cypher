MATCH (a:Entity {key: $key})<-[r:Relation]-(b:Entity)
WHERE list_contains($types, r.type)
RETURN b.name AS name, r.type AS type, 'in' AS direction
