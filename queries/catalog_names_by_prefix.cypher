// The console's completion of entity names: up to 50 whose name starts with $prefix (lower case),
// ignoring case, in any namespace (a scan: Kùzu indexes only the key).
MATCH (e:Entity) WHERE lower(e.name) STARTS WITH $prefix
RETURN e.name AS name ORDER BY name LIMIT 50
