// The console's catalog: the engine's functions and their kinds, for completion.
CALL show_functions() RETURN DISTINCT name, type
