MATCH (a:Entity)-[r:Relation]->(b:Entity)
WHERE r.created_at <= $t AND (r.expired_at IS NULL OR r.expired_at > $t)
RETURN a.id AS source, b.id AS target, r.type AS type, r.valid_from AS valid_from, r.valid_to AS valid_to
