MATCH (v:EntityVersion) WHERE v.key = $key DELETE v
