// Every relation (current and history) leaving the entities $keys, whose ids
// lie in [$lo, $hi], before they are deleted, on kuzu (DETACH DELETE alone
// leaves relation rows behind on kuzu 0.11.3: removal._DETACH_LEAVES_RELATIONS).
// The id bounds narrow the scan of entities: see entity_versions_delete_range.
// Directed halves: see relation_expire_outgoing.
MATCH (e:Entity)-[r:Relation]->(:Entity)
WHERE e.id >= $lo AND e.id <= $hi AND e.key IN $keys
DELETE r
