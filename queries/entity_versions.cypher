// Earlier versions of one entity (a scan of the history table: history reads are rare).
MATCH (v:EntityVersion) WHERE v.key = $key
RETURN v.id, v.namespace, v.name, v.type, v.text, v.observations, v.properties,
       v.recorded_at, v.valid_from, v.valid_to, v.expired_at
ORDER BY v.recorded_at
