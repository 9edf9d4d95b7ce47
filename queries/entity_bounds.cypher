// Current entities with a bounded validity (usually few): the time views' input.
MATCH (e:Entity)
WHERE e.expired_at IS NULL AND (e.valid_from IS NOT NULL OR e.valid_to IS NOT NULL)
RETURN e.id AS id, e.valid_from AS valid_from, e.valid_to AS valid_to
