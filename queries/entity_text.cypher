// The text of current entities with ids in [$lo, $hi), every namespace, in id
// order: what the text index (graphmem/index/text.py) holds.
MATCH (e:Entity)
WHERE e.id >= $lo AND e.id < $hi AND e.expired_at IS NULL
RETURN e.id AS id, e.namespace AS namespace, e.name AS name, e.type AS type, e.observations AS observations,
       e.properties AS properties, e.packed AS packed
ORDER BY e.id
