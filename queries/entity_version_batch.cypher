// entity_version_create for a batch (rows of records.version_rows_table): the entities are
// found by a join on the key column, which kuzu 0.11.3 plans as a scan of the entity table
// (it uses the primary-key index for a parameter only; LadybugDB 0.22 looks each key up), so
// on kuzu writes.write_versions sends few versions through entity_version_create instead.
LOAD FROM $rows
MATCH (e:Entity {key: key})
CREATE (:EntityVersion {
    vkey: vkey, key: key, id: id, namespace: namespace, name: name, type: type, text: text,
    observations: observations, properties: properties, valid_from: valid_from, valid_to: valid_to,
    recorded_at: recorded_at, expired_at: expired_at
})-[:VersionOf]->(e)
