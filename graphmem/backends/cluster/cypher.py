"""The FalkorDB Cypher statements of the cluster backend, one constant each.

Data model of one namespace graph (key ``gm:{<namespace>}``):

- ``(:Entity {name, id, type, text, obs, pk, pv, embedding, created_at, updated_at})``:
  FalkorDB stores no maps, so ``properties`` are two parallel lists (``pk``
  keys, ``pv`` JSON-encoded values) that Cypher can merge key by key on the
  server; ``embedding`` is a ``vecf32``; times are epoch microseconds.
- ``(:Entity)-[:REL {type, pk, pv, created_at}]->(:Entity)``: one relation
  label, its graphmem type a property, so no label comes from user data.
- ``(:_Meta {k: 'seq'|'dim', v})``: the id counter and the vector dimension.
- ``(:_Req {id, at, n, r})``: one per write request id. A write's first
  statement ``MERGE``s its marker; ``n = 0`` only the first time, so a resent
  write changes nothing but the marker (which also makes its ``WAIT`` count
  again) and the result of the first application stays in ``r``.

Every value is a ``$parameter``; no statement is assembled from input.
"""

from __future__ import annotations

# Ids: a write reserves size($rows) ids at once (never reused; rows that
# already exist leave gaps). FalkorDB evaluates ON CREATE SET c.v = c.v + 1
# once per statement, not per row, hence base + row position.
_GUARD = """
MERGE (q:_Req {id: $rid}) ON CREATE SET q.at = $now, q.n = 0 ON MATCH SET q.n = q.n + 1
WITH q WHERE q.n = 0
"""

SCHEMA = (
    "CREATE INDEX FOR (e:Entity) ON (e.name, e.id, e.type)",
    "CREATE INDEX FOR (q:_Req) ON (q.id, q.at)",
    "CREATE INDEX FOR (m:_Meta) ON (m.k)",
)
# Ids start at 1: measured on FalkorDB (redis 8.2 module), a graph moved by
# MIGRATE (DUMP/RESTORE, i.e. a slot migration or rebalance) loses the value 0
# from its numeric range indexes, so `e.id > -1` / `e.id = 0` no longer find
# an entity whose id is 0 (the rows are still there; a name lookup finds them).
SCHEMA_SEQ = "MERGE (m:_Meta {k: 'seq'}) ON CREATE SET m.v = 1 RETURN m.v"
SCHEMA_READY = "MATCH (m:_Meta {k: 'seq'}) RETURN m.v"
DIM_GET = "MATCH (d:_Meta {k: 'dim'}) RETURN d.v"
DIM_SET = "MERGE (d:_Meta {k: 'dim'}) ON CREATE SET d.v = $dim RETURN d.v"
VECTOR_INDEX = (
    "CREATE VECTOR INDEX FOR (e:Entity) ON (e.embedding) "
    "OPTIONS {dimension: $dim, similarityFunction: 'cosine', M: 16, efConstruction: 200, efRuntime: $ef}"
)

REQUEST_RESULT = "MATCH (q:_Req {id: $rid}) RETURN q.r"
REQUEST_PRUNE = "MATCH (q:_Req) WHERE q.at < $cutoff WITH q LIMIT 10000 DELETE q RETURN count(q)"

ENTITY_UPSERT = (
    """
OPTIONAL MATCH (d:_Meta {k: 'dim'})
WITH d WHERE $dim IS NULL OR d.v = $dim
"""
    + _GUARD
    + """
MATCH (m:_Meta {k: 'seq'})
WITH q, m, m.v AS base
SET m.v = base + size($rows)
WITH q, base
UNWIND $rows AS row
MERGE (e:Entity {name: row.name})
ON CREATE SET e.id = base + row.i, e.created_at = $now, e.type = 'Entity', e.obs = [], e.pk = [], e.pv = []
SET e.type = coalesce(row.type, e.type), e.text = coalesce(row.text, e.text),
    e.obs = e.obs + [o IN row.obs WHERE NOT o IN e.obs], e.updated_at = $now
WITH q, e, row, [i IN range(0, size(e.pk) - 1) WHERE NOT e.pk[i] IN row.pk] AS keep
SET e.pk = [i IN keep | e.pk[i]] + row.pk, e.pv = [i IN keep | e.pv[i]] + row.pv
FOREACH (v IN CASE WHEN row.emb IS NULL THEN [] ELSE [row.emb] END | SET e.embedding = vecf32(v))
WITH q, count(e) AS c
SET q.r = c
RETURN c
"""
)

_ENTITY_COLUMNS = "e.name, e.type, e.text, e.obs, e.pk, e.pv, e.id, e.created_at, e.updated_at"
ENTITY_GET = f"MATCH (e:Entity {{name: $name}}) RETURN {_ENTITY_COLUMNS}, e.embedding"
ENTITY_GET_MANY = f"UNWIND $names AS n MATCH (e:Entity {{name: n}}) RETURN {_ENTITY_COLUMNS}"
ENTITY_PAGE = (
    f"MATCH (e:Entity) WHERE e.id > $after RETURN {_ENTITY_COLUMNS}, e.embedding ORDER BY e.id LIMIT $n"
)
ENTITY_COUNT = "MATCH (e:Entity) RETURN count(e)"
FIRST_CREATED = "MATCH (e:Entity) RETURN min(e.created_at)"
ENTITY_TYPE_COUNTS = "MATCH (e:Entity) RETURN e.type, count(e)"
ENTITY_DELETE = (
    _GUARD
    + """
OPTIONAL MATCH (e:Entity {name: $name})
DETACH DELETE e
WITH q, count(e) AS c
SET q.r = c
RETURN c
"""
)
OBSERVATIONS_REMOVE = (
    _GUARD
    + """
OPTIONAL MATCH (e:Entity {name: $name})
FOREACH (x IN CASE WHEN e IS NULL THEN [] ELSE [e] END |
    SET x.obs = [o IN x.obs WHERE NOT o IN $drop], x.updated_at = $now)
FOREACH (x IN CASE WHEN e IS NULL OR $emb IS NULL THEN [] ELSE [e] END | SET x.embedding = vecf32($emb))
WITH q, count(e) AS c
SET q.r = c
RETURN c
"""
)
NAMES_FOUND = "UNWIND $names AS n OPTIONAL MATCH (e:Entity {name: n}) RETURN n, count(e)"

RELATION_UPSERT = (
    """
UNWIND $names AS n
OPTIONAL MATCH (e:Entity {name: n})
WITH count(e) AS found WHERE found = size($names)
"""
    + _GUARD
    + """
UNWIND $rows AS row
MATCH (a:Entity {name: row.s}), (b:Entity {name: row.t})
MERGE (a)-[r:REL {type: row.type}]->(b)
ON CREATE SET r.created_at = $now, r.pk = [], r.pv = []
WITH q, r, row, [i IN range(0, size(r.pk) - 1) WHERE NOT r.pk[i] IN row.pk] AS keep
SET r.pk = [i IN keep | r.pk[i]] + row.pk, r.pv = [i IN keep | r.pv[i]] + row.pv
WITH q, count(r) AS c
SET q.r = c
RETURN c
"""
)
RELATION_GET = (
    "MATCH (:Entity {name: $s})-[r:REL {type: $type}]->(:Entity {name: $t}) RETURN r.pk, r.pv, r.created_at"
)
RELATION_DELETE = (
    _GUARD
    + """
OPTIONAL MATCH (:Entity {name: $s})-[r:REL {type: $type}]->(:Entity {name: $t})
DELETE r
WITH q, count(r) AS c
SET q.r = c
RETURN c
"""
)
RELATION_PAGE = (
    "MATCH (a:Entity) WHERE a.id > $after WITH a ORDER BY a.id LIMIT $n "
    "OPTIONAL MATCH (a)-[r:REL]->(b:Entity) "
    "RETURN a.id, a.name, r.type, b.name, r.pk, r.pv, r.created_at ORDER BY a.id, b.name, r.type"
)
RELATION_TYPE_COUNTS = "MATCH ()-[r:REL]->() RETURN r.type, count(r)"

# One BFS level: the relations leaving (out) or reaching (in) a set of names, with which way each points.
_OUT = (
    "UNWIND $names AS n MATCH (a:Entity {name: n})-[r:REL]->(b:Entity) "
    "WHERE $types IS NULL OR r.type IN $types RETURN a.name AS f, r.type AS t, b.name AS o, 'out' AS w"
)
_IN = (
    "UNWIND $names AS n MATCH (a:Entity {name: n})<-[r:REL]-(b:Entity) "
    "WHERE $types IS NULL OR r.type IN $types RETURN a.name AS f, r.type AS t, b.name AS o, 'in' AS w"
)
EXPAND = {"out": _OUT, "in": _IN, "both": _OUT + " UNION ALL " + _IN}
NEIGHBORS = {
    "out": "MATCH (a:Entity {name: $name})-[r:REL]->(b:Entity) WHERE $types IS NULL OR r.type IN $types "
    "RETURN b.name AS n, r.type AS t, 'out' AS d",
    "in": "MATCH (a:Entity {name: $name})<-[r:REL]-(b:Entity) WHERE $types IS NULL OR r.type IN $types "
    "RETURN b.name AS n, r.type AS t, 'in' AS d",
}
NEIGHBORS["both"] = NEIGHBORS["out"] + " UNION ALL " + NEIGHBORS["in"]

# Similarity is 1 - cosine distance (vectors are stored L2-normalised).
SCORE = (
    "UNWIND $names AS n MATCH (e:Entity {name: n}) "
    "WHERE e.embedding IS NOT NULL AND ($types IS NULL OR e.type IN $types) "
    "RETURN e.name, e.id, 1.0 - vec.cosineDistance(e.embedding, vecf32($q))"
)
KNN = (
    "CALL db.idx.vector.queryNodes('Entity', 'embedding', $k, vecf32($q)) YIELD node, score "
    "WITH node, score WHERE $types IS NULL OR node.type IN $types "
    "RETURN node.name, node.id, 1.0 - score"
)
EXACT_TOP = (
    "MATCH (e:Entity) WHERE e.embedding IS NOT NULL AND ($types IS NULL OR e.type IN $types) "
    "WITH e, 1.0 - vec.cosineDistance(e.embedding, vecf32($q)) AS s "
    "RETURN e.name, e.id, s ORDER BY s DESC, e.id LIMIT $k"
)
VECTOR_COUNT = "MATCH (e:Entity) WHERE e.embedding IS NOT NULL RETURN count(e)"
RELATIONS_AMONG = (
    "UNWIND $names AS n MATCH (a:Entity {name: n})-[r:REL]->(b:Entity) "
    "WHERE b.name IN $names AND ($types IS NULL OR r.type IN $types) RETURN a.name, r.type, b.name"
)

# -- batched existence, deletes and text (the MemoryAPI methods of issue 20) ---------------
RELATION_COUNT = "MATCH ()-[r:REL]->() RETURN count(r)"
RELATIONS_FOUND = (
    "UNWIND $rows AS row OPTIONAL MATCH (:Entity {name: row.s})-[r:REL {type: row.type}]->(:Entity {name: row.t}) "
    "RETURN row.i, count(r)"
)
# The names that existed go into the request marker too, so a resend answers
# as the first application did.
ENTITY_DELETE_MANY = (
    _GUARD
    + """
UNWIND $names AS n
OPTIONAL MATCH (e:Entity {name: n})
WITH q, n, e, e IS NOT NULL AS found
DETACH DELETE e
WITH q, collect(CASE WHEN found THEN n END) AS gone
SET q.r = gone
RETURN gone
"""
)
TEXT_PAGE = "MATCH (e:Entity) WHERE e.id > $after RETURN e.id, e.name, e.type, e.obs ORDER BY e.id LIMIT $n"
NAME_PAGE = "MATCH (e:Entity) WHERE e.id > $after RETURN e.id, e.name, e.type ORDER BY e.id LIMIT $n"
TEXT_MANY = "UNWIND $names AS n MATCH (e:Entity {name: n}) RETURN e.id, e.name, e.type, e.obs"
RELATIONS_ALL = (
    "MATCH (a:Entity)-[r:REL]->(b:Entity) RETURN a.id, b.id, a.name, r.type, b.name ORDER BY a.id, b.id, r.type"
)
RELATIONS_TOUCHING = (
    "UNWIND $names AS n MATCH (a:Entity {name: n})-[r:REL]->(b:Entity) RETURN a.id, b.id, a.name, r.type, b.name "
    "UNION "
    "UNWIND $names AS n MATCH (a:Entity)-[r:REL]->(b:Entity {name: n}) RETURN a.id, b.id, a.name, r.type, b.name"
)
