CREATE (:Entity {
    key: $key, id: $id, namespace: $namespace, name: $name, type: $type, text: $text,
    observations: $observations, properties: $properties,
    embedding: BLOB($embedding), scale: $scale,
    created_at: $created_at, updated_at: $updated_at, valid_from: $valid_from, valid_to: $valid_to,
    importance: $importance
})
