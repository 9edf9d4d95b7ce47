LOAD FROM $rows
MATCH (e:Entity {key: key})
SET e.type = type, e.text = text, e.observations = observations, e.properties = properties,
    e.embedding = embedding, e.scale = scale, e.created_at = created_at, e.updated_at = updated_at,
    e.valid_from = valid_from, e.valid_to = valid_to, e.expired_at = expired_at, e.importance = importance,
    e.packed = NULL
