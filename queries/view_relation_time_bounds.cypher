// The viewer's time slider: the bounded validities of the current relations of a namespace.
MATCH (a:Entity)-[r:Relation]->(:Entity)
WHERE r.expired_at IS NULL AND a.namespace = $namespace AND (r.valid_from IS NOT NULL OR r.valid_to IS NOT NULL)
RETURN min(r.valid_from), max(r.valid_from), min(r.valid_to), max(r.valid_to), count(*)
