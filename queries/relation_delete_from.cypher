// The hard delete of several relations out of one entity: every version of each
// relation from $source whose "target key|type" is in $pairs (see relation_delete_into).
MATCH (a:Entity {key: $source})-[r:Relation]->(b:Entity)
WHERE list_contains($pairs, b.key + '|' + r.type)
DELETE r
