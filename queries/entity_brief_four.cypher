// What recall shows of up to 4 entities, in one statement (a block of
// graphmem/query/retrieval.py's read_briefs): 4 primary-key reads joined by
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
