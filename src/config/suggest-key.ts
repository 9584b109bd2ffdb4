/**
 * "Did you mean …?" for unknown config keys.
 *
 * Keys are compared after folding camelCase and kebab-case into snake_case and lower-casing, by
 * optimal-string-alignment distance (Levenshtein plus adjacent transpositions, so `hots` is one edit
 * from `host`). A suggestion is made only when it is close: at most a third of the key's length
 * (and at least 1 edit allowed), so short unrelated keys get none.
 */

/**
 * The known key closest to `key`, or undefined when none is close enough.
 * @param key the unknown key as written
 * @param known the keys allowed at that place
 */
export function suggestKey(key: string, known: readonly string[]): string | undefined {
  const wanted = normalize(key);
  const limit = Math.max(1, Math.floor(wanted.length / 3));
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of known) {
    const distance = editDistance(wanted, normalize(candidate));
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return bestDistance <= limit ? best : undefined;
}

function normalize(key: string): string {
  return key
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/-/g, '_')
    .toLowerCase();
}

/** Optimal string alignment distance. Keys are short, so the full table is fine. */
function editDistance(a: string, b: string): number {
  const w = b.length + 1;
  // d(i, j): the distance between a's first i and b's first j characters, every cell filled below
  const cells = Array.from({ length: (a.length + 1) * w }, (_, k) => (k < w ? k : k % w === 0 ? k / w : 0));
  const d = (i: number, j: number): number => cells[i * w + j]!;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d(i - 1, j) + 1, d(i, j - 1) + 1, d(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, d(i - 2, j - 2) + 1);
      cells[i * w + j] = best;
    }
  }
  return d(a.length, b.length);
}
