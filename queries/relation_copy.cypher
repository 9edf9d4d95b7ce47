// $rows columns: from, to (Entity keys), type, properties, created_at.
COPY Relation FROM $rows
