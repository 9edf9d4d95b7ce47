// The hard delete of several relations into one entity: every version of each
// relation from a source to $target whose "source key|type" is in $pairs (a
// type is an identifier, so the pair reads back one way). $target is found by
// its primary key and its incoming relations followed: one statement for what
// relation_delete does per row (kuzu 0.11.3, 100k entities, 10 relations into
// one entity: ~1.9 ms against 10 x ~0.63).
MATCH (a:Entity)-[r:Relation]->(b:Entity {key: $target})
WHERE list_contains($pairs, a.key + '|' + r.type)
DELETE r
