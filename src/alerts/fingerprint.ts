/**
 * Alert fingerprints: one alert per condition. The fingerprint of an alert is a hash of what raised
 * it (`identity`: a rule, a signal's source and key, or an API message) and its label set, with
 * labels sorted so their order never matters. Two raises with the same fingerprint are the same
 * alert (deduplicated); the suppression window and silences are kept per fingerprint.
 */
import { createHash } from 'node:crypto';

/** Hex digits kept of the sha256: 64 bits, so a collision among a few thousand alerts is ~1e-13. */
const FINGERPRINT_HEX = 16;

/**
 * The stable fingerprint of `identity` with `labels`.
 * @param identity what raised the alert, e.g. `'rule:high_latency'`, `'signal:performance_monitor:latency.p95'`
 * @param labels the alert's labels (order does not matter)
 * @returns 16 lowercase hex digits
 */
export function fingerprint(identity: string, labels: Readonly<Record<string, string>>): string {
  const sorted = Object.keys(labels)
    .sort()
    .map((name) => [name, labels[name]]);
  return createHash('sha256')
    .update(JSON.stringify([identity, sorted]))
    .digest('hex')
    .slice(0, FINGERPRINT_HEX);
}

/**
 * A short stable id from any parts (alert ids: fingerprint + start time + a sequence number).
 * @returns 16 lowercase hex digits
 */
export function stableId(...parts: (string | number)[]): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex').slice(0, FINGERPRINT_HEX);
}
