// The node flags a peer process runs with, in one place: `agentmesh up` passes them to the peers
// it starts, the repository's `./agentmesh` launcher and the CLI's shebang carry the same, and the
// benchmarks start their peers with them (so they measure what a user runs).
//
// A young generation of 8 MB semi-spaces instead of V8's default 16: bench:bounded's peers ended at
// 232-278 MB of RSS against 288-305 (two runs each, alternating), with the same throughput and CPU
// per task (docs/performance.md, "2026-12-04, afternoon").

/** Node flags for an `agentmesh peer` process. */
export const PEER_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=8'];
