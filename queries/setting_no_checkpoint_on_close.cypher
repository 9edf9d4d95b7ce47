// A writable handle does not checkpoint when its connection closes: a checkpoint at close on a full
// disk made kuzu spin forever in rollbackCheckpoint (measured); Store.close() checkpoints itself when
// there is room, and the WAL probe replays a log without folding it.
CALL force_checkpoint_on_close=false
