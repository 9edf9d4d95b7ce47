// entity_delete for several entities whose ids lie in [$lo, $hi], on kuzu
// (see entity_versions_delete_range; their relations went first, and DETACH is
// kept so that a node never fails to go when one was missed).
MATCH (e:Entity)
WHERE e.id >= $lo AND e.id <= $hi AND e.key IN $keys
DETACH DELETE e
