// Current entities without a vector (written while the embedder was deferred,
// by user Cypher, or with no embedder): what Memory.embed_missing embeds.
MATCH (e:Entity)
WHERE e.expired_at IS NULL AND e.embedding IS NULL
RETURN e.key AS key, e.updated_at AS updated_at
