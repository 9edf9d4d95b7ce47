// Ids and write times of current entities with ids in [$lo, $hi), without
// their embeddings: what a vector index loaded with its saved rows checks
// against (VectorStore._load_saved_rows); reading the embedding column would
// keep its pages (~800 B per entity) in the engine's buffer pool.
MATCH (e:Entity)
WHERE e.id >= $lo AND e.id < $hi AND e.expired_at IS NULL
RETURN e.id AS id, e.updated_at AS updated_at
