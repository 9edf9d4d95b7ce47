// entity_delete for several entities, on ladybug 0.22, which looks each key up
// in the primary-key index (no scan). kuzu 0.11.3 plans this UNWIND as a join
// that scans every entity: it deletes through entity_delete_range or one key at
// a time (removal.delete_in_store).
UNWIND $keys AS k
MATCH (e:Entity {key: k})
DETACH DELETE e
