// The current relations of one entity with everything a copy needs (merge()).
MATCH (a:Entity {key: $key})-[r:Relation]->(b:Entity)
WHERE r.expired_at IS NULL
RETURN a.name AS source, r.type AS type, b.name AS target, r.properties AS properties,
       r.valid_from AS valid_from, r.valid_to AS valid_to
UNION ALL
MATCH (a:Entity {key: $key})<-[r:Relation]-(b:Entity)
WHERE r.expired_at IS NULL AND b.key <> $key
RETURN b.name AS source, r.type AS type, a.name AS target, r.properties AS properties,
       r.valid_from AS valid_from, r.valid_to AS valid_to
