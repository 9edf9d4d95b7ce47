// What recall shows of up to 32 entities, in one statement (a block of
// graphmem/query/retrieval.py's read_briefs): 32 primary-key reads joined by
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
UNION ALL
MATCH (e:Entity {key: $k4})
RETURN 4 AS slot, e.type, e.text, e.observations, e.packed
UNION ALL
MATCH (e:Entity {key: $k5})
RETURN 5 AS slot, e.type, e.text, e.observations, e.packed
UNION ALL
MATCH (e:Entity {key: $k6})
RETURN 6 AS slot, e.type, e.text, e.observations, e.packed
UNION ALL
MATCH (e:Entity {key: $k7})
RETURN 7 AS slot, e.type, e.text, e.observations, e.packed
UNION ALL
MATCH (e:Entity {key: $k8})
RETURN 8 AS slot, e.type, e.text, e.observations, e.packed
UNION ALL
MATCH (e:Entity {key: $k9})
RETURN 9 AS slot, e.type, e.text, e.observations, e.packed
UNION ALL
MATCH (e:Entity {key: $k10})
RETURN 10 AS slot, e.type, e.text, e.observations, e.packed
UNION ALL
MATCH (e:Entity {key: $k11})
RETURN 11 AS slot, e.type, e.text, e.observations, e.packed
UNION ALL
MATCH (e:Entity {key: $k12})
RETURN 12 AS slot, e.type, e.text, e.observations, e.packed
UNION ALL
MATCH (e:Entity {key: $k13})
RETURN 13 AS slot, e.type, e.text, e.observations, e.packed
UNION ALL
MATCH (e:Entity {key: $k14})
RETURN 14 AS slot, e.type, e.text, e.observations, e.packed
UNION ALL
MATCH (e:Entity {key: $k15})
RETURN 15 AS slot, e.type, e.text, e.observations, e.packed
UNION ALL
MATCH (e:Entity {key: $k16})
RETURN 16 AS slot, e.type, e.text, e.observations, e.packed
UNION ALL
MATCH (e:Entity {key: $k17})
RETURN 17 AS slot, e.type, e.text, e.observations, e.packed
UNION ALL
MATCH (e:Entity {key: $k18})
RETURN 18 AS slot, e.type, e.text, e.observations, e.packed
UNION ALL
MATCH (e:Entity {key: $k19})
RETURN 19 AS slot, e.type, e.text, e.observations, e.packed
UNION ALL
MATCH (e:Entity {key: $k20})
RETURN 20 AS slot, e.type, e.text, e.observations, e.packed
UNION ALL
MATCH (e:Entity {key: $k21})
RETURN 21 AS slot, e.type, e.text, e.observations, e.packed
UNION ALL
MATCH (e:Entity {key: $k22})
RETURN 22 AS slot, e.type, e.text, e.observations, e.packed
UNION ALL
MATCH (e:Entity {key: $k23})
RETURN 23 AS slot, e.type, e.text, e.observations, e.packed
UNION ALL
MATCH (e:Entity {key: $k24})
RETURN 24 AS slot, e.type, e.text, e.observations, e.packed
UNION ALL
MATCH (e:Entity {key: $k25})
RETURN 25 AS slot, e.type, e.text, e.observations, e.packed
UNION ALL
MATCH (e:Entity {key: $k26})
RETURN 26 AS slot, e.type, e.text, e.observations, e.packed
UNION ALL
MATCH (e:Entity {key: $k27})
RETURN 27 AS slot, e.type, e.text, e.observations, e.packed
UNION ALL
MATCH (e:Entity {key: $k28})
RETURN 28 AS slot, e.type, e.text, e.observations, e.packed
UNION ALL
MATCH (e:Entity {key: $k29})
RETURN 29 AS slot, e.type, e.text, e.observations, e.packed
UNION ALL
MATCH (e:Entity {key: $k30})
RETURN 30 AS slot, e.type, e.text, e.observations, e.packed
UNION ALL
MATCH (e:Entity {key: $k31})
RETURN 31 AS slot, e.type, e.text, e.observations, e.packed
