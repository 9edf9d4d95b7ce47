// Entities that break graphmem's data model (checked before a user Cypher
// write commits): missing fields, a key that is not namespace + U+001F + name,
// or an id that is negative or shared.
MATCH (e:Entity)
WHERE e.id IS NULL OR e.id < 0 OR e.name IS NULL OR e.namespace IS NULL OR e.type IS NULL
   OR e.key <> e.namespace + $separator + e.name
RETURN e.key AS key
LIMIT 5
