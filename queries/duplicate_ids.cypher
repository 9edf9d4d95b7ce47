MATCH (e:Entity)
WITH e.id AS id, count(*) AS n
WHERE n > 1
RETURN id
LIMIT 5
