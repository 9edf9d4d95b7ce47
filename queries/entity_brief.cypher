// What recall shows of an entity: no vector, properties or timestamps, and
// not the key, id or name, which the caller knows (the name is the rest of the
// key). Each column read costs: at 1M entities on kuzu 0.11.3, a block of 32
// keyed reads took ~20% less CPU with these 4 columns than with the 7 (key,
// id, name as well) of before.
MATCH (e:Entity {key: $key})
RETURN e.type, e.text, e.observations, e.packed
