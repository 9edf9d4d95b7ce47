// The console's catalog: the Meta table's properties (see catalog_entity_columns).
CALL table_info('Meta') RETURN name, type, `primary key`
