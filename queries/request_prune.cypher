// Forget the request ids recorded before $before (graphmem/requests.py).
MATCH (m:Meta) WHERE starts_with(m.key, $prefix) AND m.key < $before DELETE m RETURN count(*) AS n
