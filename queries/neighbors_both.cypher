// kuzu 0.11.3 evaluates a WHERE that compares only a $parameter with a literal
// wrongly (it keeps every row), so direction is chosen by query, not by predicate.
MATCH (a:Entity {key: $key})-[r:Relation]->(b:Entity)
RETURN b.name AS name, r.type AS type, 'out' AS direction
UNION ALL
MATCH (a:Entity {key: $key})<-[r:Relation]-(b:Entity)
RETURN b.name AS name, r.type AS type, 'in' AS direction
