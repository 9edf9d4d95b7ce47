// Current relations whose properties mention $key (the type as its writer
// spelled it): what the relation label map (graphmem/index/labels.py) holds.
MATCH (a:Entity)-[r:Relation]->(b:Entity)
WHERE r.expired_at IS NULL AND r.properties CONTAINS $key
RETURN a.id AS source, r.type AS type, b.id AS target, r.properties AS properties
