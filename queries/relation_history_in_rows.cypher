// relation_history_out_rows for the relations entering one entity (ids from relation_history_in_newest).
MATCH (a:Entity {key: $key})<-[r:Relation]-(b:Entity)
WHERE offset(ID(r)) IN $ids AND ID(b) <> ID(a)
RETURN offset(ID(r)) AS id, b.name AS source, r.type AS type, a.name AS target, r.properties AS properties,
       r.created_at AS created_at, r.valid_from AS valid_from, r.valid_to AS valid_to, r.expired_at AS expired_at
