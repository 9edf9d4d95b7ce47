// Current relations per namespace (of their source: relations never cross namespaces) and type.
// The source is read (a.namespace), so only relations whose endpoints exist are counted.
MATCH (a:Entity)-[r:Relation]->(:Entity) WHERE r.expired_at IS NULL
RETURN a.namespace, r.type, count(*) ORDER BY a.namespace, r.type
