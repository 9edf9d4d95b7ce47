// Every relation (current and history) entering the entities $keys, before
// they are deleted (see entity_relations_delete_out_batch: DETACH DELETE alone
// leaves relations behind on kuzu 0.11.3).
UNWIND $keys AS k
MATCH (a:Entity {key: k})<-[r:Relation]-(:Entity)
DELETE r
