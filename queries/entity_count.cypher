MATCH (e:Entity) RETURN count(*)
