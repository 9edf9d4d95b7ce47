// Current relations valid at $now to current entities valid at $now.
MATCH (a:Entity {key: $key})<-[r:Relation]-(b:Entity)
WHERE r.expired_at IS NULL
  AND (r.valid_from IS NULL OR r.valid_from <= $now) AND (r.valid_to IS NULL OR r.valid_to > $now)
  AND b.expired_at IS NULL
  AND (b.valid_from IS NULL OR b.valid_from <= $now) AND (b.valid_to IS NULL OR b.valid_to > $now)
RETURN b.name AS name, r.type AS type, 'in' AS direction
