// Versions of this namespace retired before $before (a scan of the history table: purge goes
// over a whole namespace). DETACH: each takes its VersionOf link (schema 004) with it.
MATCH (v:EntityVersion)
WHERE v.namespace = $namespace AND v.expired_at < $before
DETACH DELETE v
RETURN count(*)
