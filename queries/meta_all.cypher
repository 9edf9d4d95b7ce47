MATCH (m:Meta) RETURN m.key, m.value
