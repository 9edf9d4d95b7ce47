// New entities of a small batch (graphmem.records.entity_row_dicts, below
// ENTITY_ROWS_MAX rows): $rows is a list of structs with the properties of
// entity_create_batch's table. Unlike LOAD FROM an Arrow table, bound when the
// statement is planned, this prepares once and is reused. Every field that may
// be NULL is cast, and the embedding parsed from its escaped string (kuzu 0.11.3
// refuses bytes parameters): a field NULL or empty in the row the statement was
// prepared with has no type of its own there, and the rows of a batch differ.
UNWIND $rows AS r
CREATE (:Entity {
    key: r.key, id: r.id, namespace: r.namespace, name: r.name, type: r.type, text: CAST(r.text AS STRING),
    observations: CAST(r.observations AS STRING[]), properties: r.properties,
    embedding: BLOB(CAST(r.embedding AS STRING)), scale: CAST(r.scale AS FLOAT),
    created_at: r.created_at, updated_at: r.updated_at, valid_from: CAST(r.valid_from AS TIMESTAMP),
    valid_to: CAST(r.valid_to AS TIMESTAMP), expired_at: CAST(r.expired_at AS TIMESTAMP),
    importance: CAST(r.importance AS DOUBLE)
})
