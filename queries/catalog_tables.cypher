// The console's catalog: every table of the store and its kind (NODE or REL), for completion and :schema.
CALL show_tables() RETURN name, type
