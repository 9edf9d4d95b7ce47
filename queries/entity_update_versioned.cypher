// One existing entity's new values and the version they replace, in one
// statement (entity_version_create then entity_update, joined): the entity is
// found once by its primary key, the version (the old values, parameters
// old_*, retired at $retired_at) is created linked to it, and the new values
// are set. Also revives an expired entity (expired_at back to NULL). The
// version's key, id, namespace and name are the entity's own.
MATCH (e:Entity {key: $key})
CREATE (:EntityVersion {
    vkey: $vkey, key: $key, id: $id, namespace: $namespace, name: $name, type: $old_type, text: $old_text,
    observations: $old_observations, properties: $old_properties, valid_from: $old_valid_from,
    valid_to: $old_valid_to, recorded_at: $recorded_at, expired_at: $retired_at
})-[:VersionOf]->(e)
SET e.type = $type, e.text = $text, e.observations = $observations, e.properties = $properties,
    e.embedding = BLOB($embedding), e.scale = $scale, e.created_at = $created_at, e.updated_at = $updated_at,
    e.valid_from = $valid_from, e.valid_to = $valid_to, e.expired_at = NULL, e.importance = $importance,
    e.packed = NULL
