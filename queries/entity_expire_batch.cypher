// entity_expire for several entities: one statement for any number on ladybug
// 0.22, which looks each key up in the primary-key index; kuzu 0.11.3 scans
// every entity for it (removal.expire_in_store sends it a few keys one by one).
UNWIND $keys AS k
MATCH (e:Entity {key: k})
WHERE e.expired_at IS NULL
SET e.expired_at = $now
