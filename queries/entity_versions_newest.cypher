// The newest $limit earlier versions of one entity, newest first (Memory.entity_versions: bounded
// output). The entity by its primary key, then its own versions through VersionOf (schema 004):
// the work grows with this entity's history only, not the store's.
MATCH (e:Entity {key: $key})<-[:VersionOf]-(v:EntityVersion)
RETURN v.id, v.namespace, v.name, v.type, v.text, v.observations, v.properties,
       v.recorded_at, v.valid_from, v.valid_to, v.expired_at
ORDER BY v.recorded_at DESC
LIMIT $limit
