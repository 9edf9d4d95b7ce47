// Every relation (current and history) entering the entities $keys, whose ids
// lie in [$lo, $hi], before they are deleted, on kuzu (see
// entity_relations_delete_out_range).
MATCH (e:Entity)<-[r:Relation]-(:Entity)
WHERE e.id >= $lo AND e.id <= $hi AND e.key IN $keys
DELETE r
