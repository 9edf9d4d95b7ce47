// entity_versions_delete for several entities whose ids lie in [$lo, $hi]
// (removal.delete_in_store). The id bounds go first: kuzu 0.11.3 compares an
// integer column far more cheaply than it looks keys up in a list, and skips
// the scan's chunks outside the bounds when they are written in as literals
// (Store.execute_bounded). The key filter is what decides; the bounds only
// narrow the scan, so they must hold every key's id.
MATCH (e:Entity)<-[r:VersionOf]-(v:EntityVersion)
WHERE e.id >= $lo AND e.id <= $hi AND e.key IN $keys
DELETE r, v
