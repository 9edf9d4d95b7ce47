// What recall shows of an entity: no vector, properties or timestamps, and
// not the key, id or name, which the caller knows (the name is the rest of the
// key). Each column read costs: at 1M entities on kuzu 0.11.3, 30 keys read
// in one block of 32 with these 4 columns took ~20% less CPU than in two
// blocks of 16 with the 7 (key, id, name as well) of before, and blocks of 16
// or 32 cost alike with the same columns.
MATCH (e:Entity {key: $key})
RETURN e.type, e.text, e.observations, e.packed
