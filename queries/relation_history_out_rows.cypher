// The relations leaving one entity with the engine ids $ids (from relation_history_out_newest), with
// their targets' names: filtered by id before the targets are read, so only these rows name theirs.
MATCH (a:Entity {key: $key})-[r:Relation]->(b:Entity)
WHERE offset(ID(r)) IN $ids
RETURN offset(ID(r)) AS id, a.name AS source, r.type AS type, b.name AS target, r.properties AS properties,
       r.created_at AS created_at, r.valid_from AS valid_from, r.valid_to AS valid_to, r.expired_at AS expired_at
