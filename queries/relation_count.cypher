MATCH ()-[r:Relation]->() RETURN count(*)
