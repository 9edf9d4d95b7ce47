// graphmem schema, version 3: forgetting, tiers and monitoring (issue 8).
//
// access_count / last_access: how often and when an entity was last read
// (batched in memory, flushed with writes and at close, never one write per
// read). importance: a score the caller may set (forget(policy="importance")).
// packed: a cold entity's text and observations, zstd-compressed; then text
// is NULL and observations empty, and every API read unpacks them.

ALTER TABLE Entity ADD access_count INT64;
ALTER TABLE Entity ADD last_access TIMESTAMP;
ALTER TABLE Entity ADD importance DOUBLE;
ALTER TABLE Entity ADD packed BLOB;
