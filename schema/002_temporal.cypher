// graphmem schema, version 2: bi-temporal facts and entity history (issue 7).
//
// World time (given by the caller, optional): valid_from / valid_to, the
// half-open interval in which a fact held. System time (set by graphmem):
// an entity's current version was recorded at updated_at, a relation at
// created_at; expired_at is when graphmem retired the fact (NULL: current).
// Expired rows stay as history until purge(). ALTER ... ADD appends the
// columns, so COPY tables list them after the version 1 columns.

ALTER TABLE Entity ADD valid_from TIMESTAMP;
ALTER TABLE Entity ADD valid_to TIMESTAMP;
ALTER TABLE Entity ADD expired_at TIMESTAMP;

ALTER TABLE Relation ADD valid_from TIMESTAMP;
ALTER TABLE Relation ADD valid_to TIMESTAMP;
ALTER TABLE Relation ADD expired_at TIMESTAMP;

// The earlier versions of entities: each update or expiry copies the version
// it replaces here (without its vector: vectors follow the current text).
// vkey = entity key + U+001F + recorded_at in microseconds (unique: graphmem
// gives every write of one store a distinct, increasing timestamp).
CREATE NODE TABLE EntityVersion(
    vkey STRING PRIMARY KEY,
    key STRING,
    id INT64,
    namespace STRING,
    name STRING,
    type STRING,
    text STRING,
    observations STRING[],
    properties STRING,
    valid_from TIMESTAMP,
    valid_to TIMESTAMP,
    recorded_at TIMESTAMP,
    expired_at TIMESTAMP
);
