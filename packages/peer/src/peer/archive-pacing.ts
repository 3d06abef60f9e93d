// How archival spreads its work over turns of the main loop: a look's finished tasks are examined
// a piece at a time (lookPiece), and what is due is deleted in slices of whole units, spread over
// most of the time to the next look (sliceGap). Every turn of this work stalls the loop here, and
// each deletion a turn on every replica that takes it in: a submit that arrives meanwhile waits.

/**
 * Tasks deleted from the live document in one turn of the main loop (whole units: about this
 * many, at least one unit). A slice costs a turn on every replica (the deletion taken in, the
 * records and archive rows of its tasks), and a submit that arrives meanwhile waits for it. At 32
 * a slice of a busy mesh was one submitted batch, 3 ms on average against 4-4.5, but there were
 * twice as many deletions for every replica to take in, for no gain in p99 that runs could show.
 */
export const ARCHIVE_SLICE_TASKS = 64;
/**
 * Tasks a look examines in one turn of the main loop at most (whole units; at least one): whether
 * every peer holds them, and whose turn it is to delete them. A look finds about a second's worth of
 * finished tasks (3,000 to 4,000 under a steady load), and examining them in one turn held the loop
 * for 15-25 ms once a second on every peer (docs/performance.md, "2026-12-05, night").
 */
export const LOOK_PIECE_TASKS = 512;
/** Pause between two slices of archival at least (the loop handles messages and runs tasks between). */
export const ARCHIVE_SLICE_GAP_MS = 20;
/**
 * The slices a look finds are spread over this share of the time to the next look, not deleted
 * back to back: under a steady load each look finds about a second's worth of finished tasks,
 * and deleting them at once (here, and on every replica taking the deletions in) held every
 * loop for 100-200 ms once a second, which is where the slowest submit-to-start samples were
 * (docs/performance.md, "2026-12-04").
 */
export const ARCHIVE_SPREAD = 0.8;

/** The pause between slices that spreads `due` (units of task ids) over ARCHIVE_SPREAD of `checkMs`. */
export function sliceGap(due: readonly (readonly string[])[], checkMs: number): number {
  let tasks = 0;
  for (const ids of due) tasks += ids.length;
  const slices = Math.ceil(tasks / ARCHIVE_SLICE_TASKS);
  return slices <= 1 ? ARCHIVE_SLICE_GAP_MS : Math.max(ARCHIVE_SLICE_GAP_MS, Math.floor((ARCHIVE_SPREAD * checkMs) / slices));
}

/**
 * The units of a look's next piece: whole units from index `from` on, until they hold
 * LOOK_PIECE_TASKS tasks (at least one unit, however large).
 */
export function lookPiece<U extends readonly [string, readonly string[]]>(found: readonly U[], from: number): U[] {
  const piece: U[] = [];
  let tasks = 0;
  for (let i = from; i < found.length && (piece.length === 0 || tasks < LOOK_PIECE_TASKS); i++) {
    piece.push(found[i]!);
    tasks += found[i]![1].length;
  }
  return piece;
}
