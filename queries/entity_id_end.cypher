// One past the highest entity id (0 for an empty store): the end of the id ranges scans read in.
MATCH (e:Entity)
RETURN coalesce(max(e.id) + 1, 0)
