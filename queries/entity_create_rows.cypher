// New entities of a small batch (graphmem.records.entity_row_columns, below
// ENTITY_ROWS_MAX rows): one list per property, the batch's row i at position
// i + 1 of every list (lists are 1-based). Position 1 holds a typed
// placeholder, never written: a list whose values are all NULL (no entity of
// the batch has a text, say) has no type of its own, which the engines refuse
// (or abort on); with it every list is typed and no value needs a CAST.
// Unlike LOAD FROM an Arrow table, bound when the statement is planned, this
// prepares once and is reused; unlike a list of structs (the form before), the
// binding converts 16 lists, not 16 fields per row. The embedding is parsed
// from its escaped string (kuzu 0.11.3 refuses bytes parameters).
UNWIND range(2, size($key)) AS i
CREATE (:Entity {
    key: $key[i], id: $id[i], namespace: $namespace[i], name: $name[i], type: $type[i], text: $text[i],
    observations: $observations[i], properties: $properties[i],
    embedding: BLOB($embedding[i]), scale: $scale[i],
    created_at: $created_at[i], updated_at: $updated_at[i], valid_from: $valid_from[i],
    valid_to: $valid_to[i], expired_at: $expired_at[i], importance: $importance[i]
})
