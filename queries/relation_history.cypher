MATCH (a:Entity {key: $key})-[r:Relation]->(b:Entity)
RETURN a.name AS source, r.type AS type, b.name AS target, r.properties AS properties,
       r.created_at AS created_at, r.valid_from AS valid_from, r.valid_to AS valid_to, r.expired_at AS expired_at
UNION ALL
MATCH (a:Entity {key: $key})<-[r:Relation]-(b:Entity)
WHERE b.key <> $key
RETURN b.name AS source, r.type AS type, a.name AS target, r.properties AS properties,
       r.created_at AS created_at, r.valid_from AS valid_from, r.valid_to AS valid_to, r.expired_at AS expired_at
