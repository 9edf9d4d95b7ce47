// Current relations of sources with ids in [$lo, $hi) (read in ranges:
// Store.execute_arrow_by_id); valid_from/valid_to feed the time views.
MATCH (a:Entity)-[r:Relation]->(b:Entity)
WHERE a.id >= $lo AND a.id < $hi AND r.expired_at IS NULL
RETURN a.id AS source, b.id AS target, r.type AS type, r.valid_from AS valid_from, r.valid_to AS valid_to
