MATCH ()-[r:Relation]->() WHERE r.expired_at IS NULL RETURN r.type, count(*) ORDER BY r.type
