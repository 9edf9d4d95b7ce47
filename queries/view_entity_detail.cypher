// The viewer's entity panel when it reads through an MCP server's share socket
// (properties is graphmem's JSON text).
MATCH (e:Entity {key: $key})
WHERE e.expired_at IS NULL
RETURN e.name, e.type, e.text, e.observations, e.properties, e.created_at, e.updated_at, e.valid_from, e.valid_to
