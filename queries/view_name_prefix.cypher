// The viewer's search box through an MCP holder: current entities of a namespace whose name starts
// with $prefix, ignoring case, by name (a scan: Kùzu indexes only the key).
MATCH (e:Entity)
WHERE e.namespace = $namespace AND e.expired_at IS NULL AND lower(e.name) STARTS WITH $prefix
RETURN e.name, e.type ORDER BY lower(e.name), e.name LIMIT $limit
