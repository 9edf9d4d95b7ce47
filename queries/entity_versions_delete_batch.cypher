// entity_versions_delete for several entities (the UNWIND of keys is planned as a join that
// scans the entity table: removal.delete_in_store sends one key through entity_versions_delete).
UNWIND $keys AS k
MATCH (e:Entity {key: k})<-[r:VersionOf]-(v:EntityVersion)
DELETE r, v
