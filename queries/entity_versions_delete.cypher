// The history of one entity, before the entity itself is deleted (a node with relations cannot be):
// its versions through VersionOf (schema 004), each link with its version.
MATCH (e:Entity {key: $key})<-[r:VersionOf]-(v:EntityVersion)
DELETE r, v
