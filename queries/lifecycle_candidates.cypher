// What forget() and compact() rank: the current entities of one namespace.
MATCH (e:Entity)
WHERE e.namespace = $namespace AND e.expired_at IS NULL
RETURN e.key AS key, e.id AS id, e.access_count AS access_count, e.last_access AS last_access,
       e.updated_at AS updated_at, e.importance AS importance, e.packed IS NOT NULL AS cold
ORDER BY e.id
