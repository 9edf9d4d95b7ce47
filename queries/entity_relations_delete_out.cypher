// Every relation (current and history) leaving the entity $key, before it is
// deleted, on kuzu (DETACH DELETE alone leaves relation rows behind on kuzu
// 0.11.3: removal._DETACH_LEAVES_RELATIONS): entity_relations_delete_out_range
// for one key, found by its primary key (~0.4 ms at any size; removal.delete_plan
// weighs it against the batch form).
MATCH (a:Entity {key: $key})-[r:Relation]->(:Entity)
DELETE r
