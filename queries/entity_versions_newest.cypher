// The newest $limit earlier versions of one entity, newest first (Memory.entity_versions: bounded
// output; a scan of the history table, which holds no index on key).
MATCH (v:EntityVersion) WHERE v.key = $key
RETURN v.id, v.namespace, v.name, v.type, v.text, v.observations, v.properties,
       v.recorded_at, v.valid_from, v.valid_to, v.expired_at
ORDER BY v.recorded_at DESC
LIMIT $limit
