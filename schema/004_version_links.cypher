// graphmem schema, version 4: each entity's earlier versions reachable from the entity (issue 22).
//
// The engines index only a table's primary key, and an EntityVersion's is its
// own (vkey), so finding one entity's versions by their key column scanned the
// whole history table: ~28 ms of CPU at 200k versions, growing with every
// entity's history. A relation from each version to its entity makes the read
// a primary-key lookup of the entity and a walk of its own versions.
// MANY_ONE: a version belongs to exactly one entity (the engine refuses a
// second link). Every write of a version creates its link in the same
// statement (queries/entity_version_*.cypher); a hard delete removes the
// versions through their links before the entity (the entity's DETACH DELETE
// would cut the links and leave the versions behind, unreachable).

CREATE REL TABLE VersionOf(FROM EntityVersion TO Entity, MANY_ONE);

// Stores written at version 3 hold versions without links: one set-based
// statement links them all (a hash join of the two tables on the entity key).
// A version whose entity row is gone cannot be linked; graphmem never leaves
// one (a hard delete takes the history with it, purge takes versions before
// the retired entity), and one left by a user's Cypher stays readable by a
// scan only, as before, and is still removed by purge.
MATCH (v:EntityVersion), (e:Entity)
WHERE e.key = v.key
CREATE (v)-[:VersionOf]->(e);
