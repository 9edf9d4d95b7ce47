// Expired entities. Their relations were expired with them, or earlier, so
// purge_relations (run first, same $before) has already deleted every one of
// them: DETACH only guards (on kuzu 0.11.3 it can leave COPY-loaded relations
// behind, see removal._DETACH_LEAVES_RELATIONS).
MATCH (e:Entity)
WHERE e.namespace = $namespace AND e.expired_at IS NOT NULL AND e.expired_at < $before
DETACH DELETE e
RETURN count(*)
