MATCH ()-[r:Relation]->() RETURN r.type, count(*) ORDER BY r.type
