// Current relations of one namespace (relations never cross namespaces) whose
// source ids are in [$lo, $hi) (read in ranges: Store.iter_arrow_by_id).
MATCH (a:Entity)-[r:Relation]->(b:Entity)
WHERE a.namespace = $namespace AND a.id >= $lo AND a.id < $hi AND r.expired_at IS NULL
RETURN a.name AS source, r.type AS type, b.name AS target, r.properties AS properties,
       r.created_at AS created_at, r.valid_from AS valid_from, r.valid_to AS valid_to, r.expired_at AS expired_at
ORDER BY a.id, b.id, r.type
