// The text of entities created, updated, expired or revived after $seq (the
// saved text index's write time), every namespace, in id order: what a
// reopen's text index catches up (graphmem/index/derived.py).
MATCH (e:Entity)
WHERE e.updated_at > $seq OR e.expired_at > $seq
RETURN e.id AS id, e.namespace AS namespace, e.name AS name, e.type AS type, e.observations AS observations,
       e.properties AS properties, e.packed AS packed, e.expired_at IS NULL AS current
ORDER BY e.id
