// Small batches of new relations on LadybugDB (graphmem.records.insert_relations):
// $rows is a list of structs with the columns of relation_create_batch's table
// (graphmem.records.struct_rows). Prepared once and reused, it skips the planning
// of a LOAD FROM over an Arrow table. Not on kuzu 0.11.3, which plans each row's
// endpoint MATCH as a scan of the entities. The validity and expiry fields are
// cast: a field NULL in every row has no type of its own in the parameter.
UNWIND $rows AS r
MATCH (a:Entity {key: r.from})
MATCH (b:Entity {key: r.to})
CREATE (a)-[:Relation {type: r.type, properties: r.properties, created_at: r.created_at,
                       valid_from: CAST(r.valid_from AS TIMESTAMP), valid_to: CAST(r.valid_to AS TIMESTAMP),
                       expired_at: CAST(r.expired_at AS TIMESTAMP)}]->(b)
