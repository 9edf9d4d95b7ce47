// The current entities among a vector search's ids, for a search that runs
// before the graph is loaded (Memory.search): their keys, namespaces and validity.
MATCH (e:Entity)
WHERE e.id IN $ids AND e.expired_at IS NULL
RETURN e.id AS id, e.key AS key, e.namespace AS namespace, e.valid_from AS valid_from, e.valid_to AS valid_to
