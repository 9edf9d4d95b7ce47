LOAD FROM $rows
MATCH (e:Entity {key: key})
SET e.type = type, e.text = text, e.observations = observations, e.properties = properties,
    e.embedding = embedding, e.scale = scale, e.updated_at = updated_at
