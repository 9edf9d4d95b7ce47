// Relations created or expired after $seq (the saved graph state's write
// time): what a reopen catches up (graphmem/index/derived.py).
MATCH (a:Entity)-[r:Relation]->(b:Entity)
WHERE r.created_at > $seq OR r.expired_at > $seq
RETURN a.id AS source, b.id AS target, r.type AS type, r.valid_from AS valid_from,
       r.valid_to AS valid_to, r.expired_at IS NULL AS current
