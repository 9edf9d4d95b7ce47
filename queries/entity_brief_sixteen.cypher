// What recall shows of up to 16 entities, in one statement (a block of
// graphmem/query/retrieval.py's read_briefs): 16 primary-key reads joined by
// UNION ALL, each keyed on a single parameter so kuzu 0.11.3 uses the key
// index (UNWIND of a key list, or WHERE key IN a list, scans every entity).
// An unused slot gets the empty key (every key holds the namespace separator,
// so no entity has it), which costs a lookup like any other. As entity_brief,
// plus the key (the rows come back in no promised order).
MATCH (e:Entity {key: $k0})
RETURN e.key, e.id, e.name, e.type, e.text, e.observations, e.packed
UNION ALL
MATCH (e:Entity {key: $k1})
RETURN e.key, e.id, e.name, e.type, e.text, e.observations, e.packed
UNION ALL
MATCH (e:Entity {key: $k2})
RETURN e.key, e.id, e.name, e.type, e.text, e.observations, e.packed
UNION ALL
MATCH (e:Entity {key: $k3})
RETURN e.key, e.id, e.name, e.type, e.text, e.observations, e.packed
UNION ALL
MATCH (e:Entity {key: $k4})
RETURN e.key, e.id, e.name, e.type, e.text, e.observations, e.packed
UNION ALL
MATCH (e:Entity {key: $k5})
RETURN e.key, e.id, e.name, e.type, e.text, e.observations, e.packed
UNION ALL
MATCH (e:Entity {key: $k6})
RETURN e.key, e.id, e.name, e.type, e.text, e.observations, e.packed
UNION ALL
MATCH (e:Entity {key: $k7})
RETURN e.key, e.id, e.name, e.type, e.text, e.observations, e.packed
UNION ALL
MATCH (e:Entity {key: $k8})
RETURN e.key, e.id, e.name, e.type, e.text, e.observations, e.packed
UNION ALL
MATCH (e:Entity {key: $k9})
RETURN e.key, e.id, e.name, e.type, e.text, e.observations, e.packed
UNION ALL
MATCH (e:Entity {key: $k10})
RETURN e.key, e.id, e.name, e.type, e.text, e.observations, e.packed
UNION ALL
MATCH (e:Entity {key: $k11})
RETURN e.key, e.id, e.name, e.type, e.text, e.observations, e.packed
UNION ALL
MATCH (e:Entity {key: $k12})
RETURN e.key, e.id, e.name, e.type, e.text, e.observations, e.packed
UNION ALL
MATCH (e:Entity {key: $k13})
RETURN e.key, e.id, e.name, e.type, e.text, e.observations, e.packed
UNION ALL
MATCH (e:Entity {key: $k14})
RETURN e.key, e.id, e.name, e.type, e.text, e.observations, e.packed
UNION ALL
MATCH (e:Entity {key: $k15})
RETURN e.key, e.id, e.name, e.type, e.text, e.observations, e.packed
