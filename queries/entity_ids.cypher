// Current entities only: expired ones are history, outside the id map.
MATCH (e:Entity) WHERE e.expired_at IS NULL
RETURN e.key AS key, e.id AS id, e.type AS type, e.namespace AS namespace
