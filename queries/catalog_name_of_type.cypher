// The console's :schema examples: the oldest entity of a type.
MATCH (e:Entity {type: $type}) RETURN e.name ORDER BY e.id LIMIT 1
