// The viewer's drill-down into one entity type (through an MCP holder): its current entities, by name
// ignoring case (as Memory.find_names orders them).
MATCH (e:Entity)
WHERE e.namespace = $namespace AND e.expired_at IS NULL AND e.type = $type
RETURN e.name ORDER BY lower(e.name), e.name LIMIT $limit
