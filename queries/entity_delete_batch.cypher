// entity_delete for several entities. ladybug 0.22 looks each key up in the
// primary-key index (no scan); kuzu 0.11.3 plans this UNWIND as a join that
// scans every entity once, which it uses for many keys (a key list's IN costs
// per key on every row: removal.BOUNDED_KEYS_MAX), and entity_delete_range or
// one key at a time for a few (removal.delete_in_store).
UNWIND $keys AS k
MATCH (e:Entity {key: k})
DETACH DELETE e
