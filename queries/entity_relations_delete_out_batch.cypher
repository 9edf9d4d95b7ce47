// Every relation (current and history) leaving the entities $keys, before they
// are deleted. Measured on kuzu 0.11.3: DETACH DELETE of a node leaves some of
// its relations in the relation table (half of 60
// random graphs kept 1-20), so count(*) and the planner's scans still see them;
// a directed DELETE r removes them all (removal._DETACH_LEAVES_RELATIONS).
// Directed halves: see relation_expire_outgoing.
UNWIND $keys AS k
MATCH (a:Entity {key: k})-[r:Relation]->(:Entity)
DELETE r
