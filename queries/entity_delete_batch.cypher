// entity_delete for several entities. ladybug 0.22 looks each key up in the
// primary-key index (no scan); kuzu 0.11.3 plans the UNWIND as a join that
// scans every entity (removal.delete_in_store sends it a few keys one by one).
UNWIND $keys AS k
MATCH (e:Entity {key: k})
DETACH DELETE e
