/**
 * `applyFlush`: queues one encoded flush's writes to the env's databases. The ONE writer of a
 * flush: `MetricStore` calls it on the main thread for a small flush, and the writer thread
 * (`flush-writer.ts`) runs the very same function for a large one.
 *
 * **Why self-contained.** The writer thread runs this function's source text
 * (`Function.prototype.toString`), so it must not reference anything outside its own body (no
 * imports, no module constants): the same text then runs from the compiled package (dist/) and
 * from the TypeScript sources under vitest, where a worker cannot load a `.ts` file on Node 20.
 * test/store/flush-apply.test.ts checks that the text stands alone.
 */

/** One flush as byte buffers, ready to be put (see `flush-encode.ts`). Every buffer is transferable. */
export interface EncodedFlush {
  /** Series id of each current value. */
  currentIds: Uint32Array;
  /** End offset in `currentBytes` of each current value (the start is the previous end, or 0). */
  currentEnds: Uint32Array;
  /** The msgpack-encoded current values, back to back. */
  currentBytes: Uint8Array;
  /** History chunks to delete: 12-byte `history` keys back to back; removed before the puts. */
  removeKeys: Uint8Array;
  /** History chunks to write: 12-byte `history` keys back to back. */
  putKeys: Uint8Array;
  /** End offset in `putBytes` of each chunk. */
  putEnds: Uint32Array;
  /** The chunks, back to back. */
  putBytes: Uint8Array;
}

/** The databases a flush writes, opened with binary values (and uint32 / binary keys). */
export interface FlushTarget {
  current: { put(key: number, value: Uint8Array): unknown };
  history: { put(key: Uint8Array, value: Uint8Array): unknown; remove(key: Uint8Array): unknown };
}

/**
 * Queues every write of `flush`; call it inside one `env.batch` (or transaction) callback so the
 * flush commits as one transaction. Keys are slices of the buffers: no encoding happens here.
 * @param target the env's `current` and `history` databases, binary-valued
 * @param flush the encoded flush
 */
export function applyFlush(target: FlushTarget, flush: EncodedFlush): void {
  const keyBytes = 12; // point-codec.ts KEY_BYTES, inlined: this function's text must stand alone
  let start = 0;
  for (let i = 0; i < flush.currentIds.length; i++) {
    target.current.put(flush.currentIds[i]!, flush.currentBytes.subarray(start, flush.currentEnds[i]));
    start = flush.currentEnds[i]!;
  }
  for (let at = 0; at < flush.removeKeys.length; at += keyBytes) target.history.remove(flush.removeKeys.subarray(at, at + keyBytes));
  start = 0;
  for (let i = 0; i < flush.putEnds.length; i++) {
    target.history.put(flush.putKeys.subarray(i * keyBytes, (i + 1) * keyBytes), flush.putBytes.subarray(start, flush.putEnds[i]));
    start = flush.putEnds[i]!;
  }
}
