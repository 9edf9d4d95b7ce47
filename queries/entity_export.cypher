// Current entities of one namespace with ids in [$lo, $hi), in id order
// (read in ranges: Store.iter_arrow_by_id).
MATCH (e:Entity)
WHERE e.namespace = $namespace AND e.id >= $lo AND e.id < $hi AND e.expired_at IS NULL
RETURN e.id, e.namespace, e.name, e.type, e.text, e.observations, e.properties,
       e.embedding, e.scale, e.created_at, e.updated_at, e.valid_from, e.valid_to, e.expired_at, e.importance, e.packed
ORDER BY e.id
