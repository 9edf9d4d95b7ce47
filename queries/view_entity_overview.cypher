// The viewer's overview, entity side, in one scan: the current entities of a
// namespace per type, with the span of world time they cover (the first write
// and their bounded validities) and how many bounds there are (none anywhere:
// the time slider is hidden).
MATCH (e:Entity)
WHERE e.namespace = $namespace AND e.expired_at IS NULL
RETURN e.type, count(*), min(e.created_at), min(e.valid_from), max(e.valid_from), max(e.valid_to),
       count(e.valid_from) + count(e.valid_to)
ORDER BY e.type
