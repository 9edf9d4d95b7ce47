// The viewer's relation hover when it reads through an MCP server's share socket.
MATCH (a:Entity {key: $source})-[r:Relation]->(b:Entity {key: $target})
WHERE r.type = $type AND r.expired_at IS NULL
RETURN r.properties, r.created_at, r.valid_from, r.valid_to
