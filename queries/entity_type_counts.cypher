MATCH (e:Entity) RETURN e.type, count(*) ORDER BY e.type
