UNWIND $keys AS k
MATCH (v:EntityVersion)
WHERE v.key = k
DELETE v
