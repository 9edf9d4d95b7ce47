// How many request ids were recorded before $before (ids start with their time, so they sort by age).
MATCH (m:Meta) WHERE starts_with(m.key, $prefix) AND m.key < $before RETURN count(*) AS n
