// Current relations valid at $now between current entities valid at $now: an
// entity not valid now has no neighbours (as get_entity does not return it).
MATCH (a:Entity {key: $key})<-[r:Relation]-(b:Entity)
WHERE a.expired_at IS NULL
  AND (a.valid_from IS NULL OR a.valid_from <= $now) AND (a.valid_to IS NULL OR a.valid_to > $now)
  AND r.expired_at IS NULL
  AND (r.valid_from IS NULL OR r.valid_from <= $now) AND (r.valid_to IS NULL OR r.valid_to > $now)
  AND b.expired_at IS NULL
  AND (b.valid_from IS NULL OR b.valid_from <= $now) AND (b.valid_to IS NULL OR b.valid_to > $now)
RETURN b.name AS name, r.type AS type, 'in' AS direction
