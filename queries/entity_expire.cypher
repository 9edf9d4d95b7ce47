MATCH (e:Entity {key: $key}) WHERE e.expired_at IS NULL SET e.expired_at = $now
