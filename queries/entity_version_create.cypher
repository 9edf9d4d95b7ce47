// The version a write replaces, linked to its entity (schema 004) in the same statement;
// the entity is found by its primary key.
MATCH (e:Entity {key: $key})
CREATE (:EntityVersion {
    vkey: $vkey, key: $key, id: $id, namespace: $namespace, name: $name, type: $type, text: $text,
    observations: $observations, properties: $properties, valid_from: $valid_from, valid_to: $valid_to,
    recorded_at: $recorded_at, expired_at: $expired_at
})-[:VersionOf]->(e)
