// graphmem core schema, version 1 (DESIGN.md, "Data model").
// One node table and one relation table: user-supplied types are values,
// never tables, so the schema never changes at run time.

CREATE NODE TABLE Meta(
    key STRING PRIMARY KEY,
    value STRING
);

// key = namespace + U+001F + name: Kùzu indexes only the primary key, has no
// UNIQUE constraint and cannot change a key, so the key carries both.
// id is graphmem's dense, never-reused integer id (vector label, bitmap
// member, CSR row). properties is JSON text; embedding is int8 bytes with
// its float scale (value = int8 * scale).
CREATE NODE TABLE Entity(
    key STRING PRIMARY KEY,
    id INT64,
    namespace STRING,
    name STRING,
    type STRING,
    text STRING,
    observations STRING[],
    properties STRING,
    embedding BLOB,
    scale FLOAT,
    created_at TIMESTAMP,
    updated_at TIMESTAMP
);

// At most one current relation per (source, type, target); graphmem keeps it so.
CREATE REL TABLE Relation(
    FROM Entity TO Entity,
    type STRING,
    properties STRING,
    created_at TIMESTAMP
);
