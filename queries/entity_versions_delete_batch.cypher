// entity_versions_delete for several entities (the UNWIND of keys is planned as a join that
// scans the entity table: removal.delete_in_store sends a few keys through entity_versions_delete,
// one statement each).
UNWIND $keys AS k
MATCH (e:Entity {key: k})<-[r:VersionOf]-(v:EntityVersion)
DELETE r, v
