// The viewer's time slider starts at a namespace's first write: the earliest
// creation of a current entity (a scan, run only when some fact has a
// validity bound, i.e. when the slider is shown).
MATCH (e:Entity)
WHERE e.namespace = $namespace AND e.expired_at IS NULL
RETURN min(e.created_at)
