-- Cluster mode (docs/cluster.md): the last entry of the shared event log this warehouse holds, written in
-- the same transaction as the entry's events, so a loader that crashes resumes exactly after it.
CREATE TABLE _ingest_stream_offsets (
    stream    VARCHAR PRIMARY KEY,
    entry_id  VARCHAR NOT NULL
);
