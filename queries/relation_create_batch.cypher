// $rows columns: from, to (Entity keys), type, properties, created_at, valid_from,
// valid_to, expired_at. The endpoints exist (the caller checked). Unlike COPY,
// whose COMMIT checkpoints the whole database, these rows go to the WAL only:
// two MATCHes, each a primary-key lookup per row (one MATCH of both endpoints
// plans a cross product and fills the buffer pool).
LOAD FROM $rows
MATCH (a:Entity {key: from})
MATCH (b:Entity {key: to})
CREATE (a)-[:Relation {type: type, properties: properties, created_at: created_at, valid_from: valid_from,
                       valid_to: valid_to, expired_at: expired_at}]->(b)
