MATCH (v:EntityVersion)
WHERE v.namespace = $namespace AND v.expired_at < $before
DELETE v
RETURN count(*)
