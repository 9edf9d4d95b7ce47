// Every relation (current and history) entering the entity $key, before it is
// deleted: entity_relations_delete_in_range for one key (see entity_relations_delete_out).
MATCH (a:Entity {key: $key})<-[r:Relation]-(:Entity)
DELETE r
