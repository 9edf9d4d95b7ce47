// What recall shows of up to 4 entities, in one statement (a block of
// graphmem/query/retrieval.py's read_briefs): 4 primary-key reads joined by
// UNION ALL, each keyed on a single parameter so kuzu 0.11.3 uses the key
// index (UNWIND of a key list, or WHERE key IN a list, scans every entity).
// An unused slot gets the empty key (every key holds the namespace separator,
// so no entity has it), which costs a lookup like any other. As entity_brief,
// plus the slot of the key (the rows come back in no promised order): the
// key, id and name are not read, the caller knows them.
MATCH (e:Entity {key: $k0})
RETURN 0 AS slot, e.type, e.text, e.observations, e.packed
UNION ALL
MATCH (e:Entity {key: $k1})
RETURN 1 AS slot, e.type, e.text, e.observations, e.packed
UNION ALL
MATCH (e:Entity {key: $k2})
RETURN 2 AS slot, e.type, e.text, e.observations, e.packed
UNION ALL
MATCH (e:Entity {key: $k3})
RETURN 3 AS slot, e.type, e.text, e.observations, e.packed
