// The console's catalog: the Relation table's properties (see catalog_entity_columns). A relation
// table has no primary key, and table_info has no such column for it.
CALL table_info('Relation') RETURN name, type, false
