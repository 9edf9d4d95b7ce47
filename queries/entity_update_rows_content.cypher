// entity_update_rows for entities whose write changed only their
// observations, embedding or write time (see entity_update_versioned_content):
// the versions are created as there, only the columns that may change are set.
UNWIND range(2, size($key)) AS i
WITH i, $key[i] AS k
MATCH (e:Entity {key: k})
CREATE (:EntityVersion {
    vkey: $vkey[i], key: k, id: $id[i], namespace: $namespace[i], name: $name[i], type: $old_type[i],
    text: $old_text[i], observations: $old_observations[i], properties: $old_properties[i],
    valid_from: $old_valid_from[i], valid_to: $old_valid_to[i], recorded_at: $recorded_at[i],
    expired_at: $retired_at[i]
})-[:VersionOf]->(e)
SET e.observations = $observations[i], e.embedding = BLOB($embedding[i]), e.scale = $scale[i],
    e.updated_at = $updated_at[i]
