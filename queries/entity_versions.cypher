// Every earlier version of one entity, oldest first (Memory.history): the entity by its primary
// key, then its own versions through VersionOf (schema 004).
MATCH (e:Entity {key: $key})<-[:VersionOf]-(v:EntityVersion)
RETURN v.id, v.namespace, v.name, v.type, v.text, v.observations, v.properties,
       v.recorded_at, v.valid_from, v.valid_to, v.expired_at
ORDER BY v.recorded_at
