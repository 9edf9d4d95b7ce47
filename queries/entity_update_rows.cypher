// entity_update_versioned for a small batch (graphmem.records.update_row_columns):
// one list per parameter, the batch's row i at position i + 1 of every list
// (lists are 1-based; position 1 is a typed placeholder, never written, as in
// entity_create_rows). Per row: the entity by its key, the version its write
// replaces created linked to it, the new values set; k rows are one statement
// where the separate forms took 2k (or two LOAD FROM statements, each planned
// again on every call). The key is projected (WITH) before the MATCH: LadybugDB
// 0.22 then looks it up by primary key; kuzu 0.11.3 plans a hash join over a
// scan of the entities (see writes.UPDATE_ROWS_MAX and StoreConfig.update_rows).
UNWIND range(2, size($key)) AS i
WITH i, $key[i] AS k
MATCH (e:Entity {key: k})
CREATE (:EntityVersion {
    vkey: $vkey[i], key: k, id: $id[i], namespace: $namespace[i], name: $name[i], type: $old_type[i],
    text: $old_text[i], observations: $old_observations[i], properties: $old_properties[i],
    valid_from: $old_valid_from[i], valid_to: $old_valid_to[i], recorded_at: $recorded_at[i],
    expired_at: $retired_at[i]
})-[:VersionOf]->(e)
SET e.type = $type[i], e.text = $text[i], e.observations = $observations[i], e.properties = $properties[i],
    e.embedding = BLOB($embedding[i]), e.scale = $scale[i], e.created_at = $created_at[i],
    e.updated_at = $updated_at[i], e.valid_from = $valid_from[i], e.valid_to = $valid_to[i], e.expired_at = NULL,
    e.importance = $importance[i], e.packed = NULL
