"""Pure functions over arrays (graph kernels) and their caches."""
