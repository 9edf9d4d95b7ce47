// Every entity version graphmem held at system time $t with an id in [$lo, $hi)
// (read in id ranges, as relations_known_at): the current row if recorded by
// then and not yet expired, else the history row covering $t.
MATCH (e:Entity)
WHERE e.id >= $lo AND e.id < $hi AND e.updated_at <= $t AND (e.expired_at IS NULL OR e.expired_at > $t)
RETURN e.key AS key, e.id AS id, e.type AS type, e.namespace AS namespace,
       e.valid_from AS valid_from, e.valid_to AS valid_to
UNION ALL
MATCH (v:EntityVersion)
WHERE v.id >= $lo AND v.id < $hi AND v.recorded_at <= $t AND v.expired_at > $t
RETURN v.key AS key, v.id AS id, v.type AS type, v.namespace AS namespace,
       v.valid_from AS valid_from, v.valid_to AS valid_to
