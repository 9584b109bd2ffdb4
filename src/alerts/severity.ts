import { SEVERITIES, type Severity } from '../config/schema.js';

/** Alert severities, lowest first (the source design's `severity_levels`). */
export { SEVERITIES, type Severity };

/** Whether `value` is one of {@link SEVERITIES}. */
export function isSeverity(value: unknown): value is Severity {
  return typeof value === 'string' && (SEVERITIES as readonly string[]).includes(value);
}
