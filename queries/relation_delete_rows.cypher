// relation_delete_batch on LadybugDB (graphmem.memory.unlink.BOTH_KEYS_ENGINES):
// both ends of each row of $rows (source, type, target) found by their primary
// keys before the relations between them. PROFILE on LadybugDB 0.22, 10 rows:
// two QUERY_PRIMARY_KEY_LOOKUPs, 0.85 against 1.46 ms at 1k entities and 3.4
// against 8.5 at 10k for relation_delete_batch, whose target is not looked up
// but joined over a scan. On kuzu 0.11.3 this form plans two such scans and cost
// more (3.6 against 3.3 ms at 1k, 21 against 11 at 10k), so kuzu keeps the other.
UNWIND $rows AS row
MATCH (a:Entity {key: row.source})
MATCH (b:Entity {key: row.target})
MATCH (a)-[r:Relation]->(b)
WHERE r.type = row.type
DELETE r
