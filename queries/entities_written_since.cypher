// Entities created, updated, expired or revived after $seq (the saved graph
// state's write time): what a reopen catches up (graphmem/index/derived.py).
MATCH (e:Entity)
WHERE e.updated_at > $seq OR e.expired_at > $seq
RETURN e.key AS key, e.id AS id, e.type AS type, e.namespace AS namespace,
       e.valid_from AS valid_from, e.valid_to AS valid_to, e.expired_at IS NULL AS current
