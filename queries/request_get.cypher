// The result recorded for a retried call's request id (graphmem/requests.py).
MATCH (m:Meta {key: $key}) RETURN m.value AS value
