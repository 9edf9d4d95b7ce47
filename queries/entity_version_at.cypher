// The version of one entity that graphmem held at system time $t, if it is in the history table:
// the entity by its primary key, then its own versions through VersionOf (schema 004).
MATCH (e:Entity {key: $key})<-[:VersionOf]-(v:EntityVersion)
WHERE v.recorded_at <= $t AND v.expired_at > $t
RETURN v.id, v.namespace, v.name, v.type, v.text, v.observations, v.properties,
       v.recorded_at, v.valid_from, v.valid_to, v.expired_at
