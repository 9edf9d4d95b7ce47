// Their relations are deleted first (entity_relations_delete_*_batch); DETACH is
// kept so that a node never fails to go when one was missed.
UNWIND $keys AS k
MATCH (e:Entity {key: k})
DETACH DELETE e
