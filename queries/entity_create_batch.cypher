// $rows: an Arrow table with one column per Entity property (see graphmem/records.py)
LOAD FROM $rows
CREATE (:Entity {
    key: key, id: id, namespace: namespace, name: name, type: type, text: text,
    observations: observations, properties: properties, embedding: embedding, scale: scale,
    created_at: created_at, updated_at: updated_at, valid_from: valid_from, valid_to: valid_to,
    expired_at: expired_at, importance: importance
})
