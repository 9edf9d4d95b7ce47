// Current vectors written after $seq: the catch-up of a vector index loaded
// with its saved rows (VectorStore._load_saved_rows).
MATCH (e:Entity)
WHERE e.updated_at > $seq AND e.expired_at IS NULL AND e.embedding IS NOT NULL
RETURN e.id AS id, e.embedding AS embedding, e.scale AS scale
