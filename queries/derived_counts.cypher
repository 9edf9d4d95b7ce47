// Current and expired entities, and current relations: after a catch-up the
// derived state must hold exactly these many (a hard delete leaves no write
// time behind; a count that differs sends the reopen to a rebuild).
MATCH (e:Entity)
WITH count(CASE WHEN e.expired_at IS NULL THEN 1 END) AS entities,
     count(CASE WHEN e.expired_at IS NOT NULL THEN 1 END) AS expired
OPTIONAL MATCH ()-[r:Relation]->() WHERE r.expired_at IS NULL
RETURN entities, expired, count(r) AS relations
