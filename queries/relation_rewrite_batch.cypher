// Re-written relations (a batch): retire each current (source, type, target) of
// $rows and return its old values, keyed by the row's position i. Plans a hash
// join over every current relation (~0.5 s at 500k on kuzu 0.11.3, whatever the
// batch size), so it is used for batches large enough to beat per-row statements.
LOAD FROM $rows
MATCH (a:Entity {key: source})-[r:Relation]->(b:Entity {key: target})
WHERE r.type = type AND r.expired_at IS NULL
SET r.expired_at = $now
RETURN i, r.properties, r.valid_from, r.valid_to
