// Relations graphmem held at system time $t, for sources with ids in [$lo, $hi):
// read in id ranges, since the engine holds a whole result in its buffer pool
// (5M relations at once filled a 512 MiB pool).
MATCH (a:Entity)-[r:Relation]->(b:Entity)
WHERE a.id >= $lo AND a.id < $hi AND r.created_at <= $t AND (r.expired_at IS NULL OR r.expired_at > $t)
RETURN a.id AS source, b.id AS target, r.type AS type, r.valid_from AS valid_from, r.valid_to AS valid_to
