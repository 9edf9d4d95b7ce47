// DETACH takes its relations with it: all of them on ladybug; on kuzu 0.11.3
// the incoming ones, its outgoing ones having gone first
// (entity_relations_delete_out: see removal._DETACH_LEAVES_OUTGOING).
MATCH (e:Entity {key: $key}) DETACH DELETE e
