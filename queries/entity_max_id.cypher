MATCH (e:Entity) RETURN max(e.id)
