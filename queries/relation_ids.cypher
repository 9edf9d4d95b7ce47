// Current relations only; valid_from/valid_to feed the time views.
MATCH (a:Entity)-[r:Relation]->(b:Entity)
WHERE r.expired_at IS NULL
RETURN a.id AS source, b.id AS target, r.type AS type, r.valid_from AS valid_from, r.valid_to AS valid_to
