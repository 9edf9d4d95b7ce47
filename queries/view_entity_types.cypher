// The types of the viewer's neighbours and path entities (a bounded list of keys) when it reads
// through an MCP server's share socket.
UNWIND $keys AS k
MATCH (e:Entity {key: k})
WHERE e.expired_at IS NULL
RETURN e.name, e.type
