// Current entities per namespace and type (stats(): the view's namespace, and store totals).
MATCH (e:Entity) WHERE e.expired_at IS NULL RETURN e.namespace, e.type, count(*) ORDER BY e.namespace, e.type
