// $rows: an Arrow table of the columns below only (graphmem/memory/bulk.py,
// _PLAIN_COLUMNS): new entities with no validity and no importance, the usual
// batch. The properties left out (valid_from, valid_to, expired_at,
// importance) are NULL, as entity_create_batch writes them from its null
// columns; scanning those columns measured 0.3-0.45 ms of a 100-row write
// (both engines).
LOAD FROM $rows
CREATE (:Entity {
    key: key, id: id, namespace: namespace, name: name, type: type, text: text,
    observations: observations, properties: properties, embedding: embedding, scale: scale,
    created_at: created_at, updated_at: updated_at
})
