// Preloaded into node processes by the memory benchmark (with --expose-gc): SIGUSR2 runs a full
// garbage collection, so an RSS sample after it tells retained memory from garbage not yet collected.
process.on("SIGUSR2", () => globalThis.gc?.());
