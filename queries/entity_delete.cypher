// DETACH takes its relations with it on ladybug; on kuzu 0.11.3 they went
// first (entity_relations_delete_out / _in: see removal._DETACH_LEAVES_RELATIONS),
// and DETACH is kept so that the node never fails to go when one was missed.
MATCH (e:Entity {key: $key}) DETACH DELETE e
