// The console's catalog: the Entity table's properties. table_info takes a literal, not a $parameter
// (the binder refuses one), hence one statement per table.
CALL table_info('Entity') RETURN name, type, `primary key`
