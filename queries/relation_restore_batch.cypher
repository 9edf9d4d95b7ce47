// Re-written relations of a batch whose new version turned out equal to the
// old (relation_rewrite_batch retired them in this transaction, at $now, which
// is unique per write): make them current again, as if never touched.
LOAD FROM $rows
MATCH (a:Entity {key: source})-[r:Relation]->(b:Entity {key: target})
WHERE r.type = type AND r.expired_at = $now
SET r.expired_at = NULL
