// Its relations are deleted first (entity_relations_delete_*_batch); DETACH is
// kept so that the node never fails to go when one was missed.
MATCH (e:Entity {key: $key}) DETACH DELETE e
