// entity_update_versioned for an entity whose write changed only its
// observations, embedding or write time (writes.content_only: every other
// column, type, text, properties, validity, importance, creation time, is
// what the row holds, and the row is current and unpacked). The version is
// created as there; only the columns that may change are set. Each column set
// costs the engine's buffer pool until the next checkpoint (kuzu 0.11.3,
// 100k entities, 128 MiB: 720 rows updated in 13 columns filled it, 2,130 in
// these 4), and the statement is ~20% cheaper.
MATCH (e:Entity {key: $key})
CREATE (:EntityVersion {
    vkey: $vkey, key: $key, id: $id, namespace: $namespace, name: $name, type: $old_type, text: $old_text,
    observations: $old_observations, properties: $old_properties, valid_from: $old_valid_from,
    valid_to: $old_valid_to, recorded_at: $recorded_at, expired_at: $retired_at
})-[:VersionOf]->(e)
SET e.observations = $observations, e.embedding = BLOB($embedding), e.scale = $scale, e.updated_at = $updated_at
