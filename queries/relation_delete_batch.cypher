// The hard delete of several relations (relation_delete per row of $rows:
// source, type, target). Each row's source is found by its primary key and its
// relations followed from there: matching both ends in one pattern planned a
// join that cost more than the ten single statements it replaces (kuzu 0.11.3,
// 10k entities: 8.2 against 6.2 ms of CPU for 10 rows; this form 4.2). It still
// plans a join over the entities (22 ms at 100k): used on small stores only
// (StoreConfig.batch_relations).
UNWIND $rows AS row
MATCH (a:Entity {key: row.source})
MATCH (a)-[r:Relation]->(b:Entity)
WHERE r.type = row.type AND b.key = row.target
DELETE r
