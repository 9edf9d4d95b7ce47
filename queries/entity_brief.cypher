// What recall shows of an entity: no vector, properties or timestamps. A third
// of entity_get's columns: at 1M entities with a cold buffer pool it reads
// ~4x faster (fewer column pages per row).
MATCH (e:Entity {key: $key})
RETURN e.id, e.name, e.type, e.text, e.observations, e.packed
