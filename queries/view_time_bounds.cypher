// The viewer's time slider: the span of world time the current entities of a
// namespace cover (their bounded validities, and the first write), and how
// many bounds there are (none: the slider is hidden).
MATCH (e:Entity)
WHERE e.namespace = $namespace AND e.expired_at IS NULL
RETURN min(e.created_at), min(e.valid_from), max(e.valid_from), max(e.valid_to),
       count(e.valid_from) + count(e.valid_to)
