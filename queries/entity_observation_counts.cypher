// How many observations each current entity already holds, for graphmem
// import's check pass (a write appends a line's observations to these). A
// cold entity's are inside `packed`: the caller unpacks that one to count.
UNWIND $keys AS k
MATCH (e:Entity {key: k})
RETURN e.name, size(e.observations), e.packed
