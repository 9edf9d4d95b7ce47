// The console's :schema examples: the commonest (source type, relation type, target type) among a
// sample of relations, so the examples use this store's own types.
MATCH (a:Entity)-[r:Relation]->(b:Entity)
WITH a.type AS source, r.type AS relation, b.type AS target LIMIT 20000
RETURN source, relation, target, count(*) AS n ORDER BY n DESC, source, relation, target LIMIT 3
