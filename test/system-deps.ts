/**
 * Tests that need a Debian binary (Prometheus, Alertmanager, promtool, chromium) skip themselves
 * when it is absent, naming the apt-get line that installs it, unless REQUIRE_SYSTEM_DEPS=1: then
 * the absence fails the test file instead of hiding behind a skip.
 */
import fs from 'node:fs';

/** Whether `binary` exists; throws when it does not and REQUIRE_SYSTEM_DEPS=1. */
export function hasSystemBinary(binary: string, aptPackages: string): boolean {
  if (fs.existsSync(binary)) return true;
  if (process.env.REQUIRE_SYSTEM_DEPS === '1') {
    throw new Error(`${binary} is missing and REQUIRE_SYSTEM_DEPS=1: apt-get install -y ${aptPackages}`);
  }
  return false;
}

/** The skip reason to put in a describe title: `(needs apt-get install -y …)`. */
export function skipNote(binary: string, aptPackages: string): string {
  return fs.existsSync(binary) ? '' : ` (skipped: ${binary} missing; apt-get install -y ${aptPackages})`;
}

/** The Debian packages that provide each binary. */
const PACKAGE_OF: Record<string, string> = {
  '/usr/bin/chromium': 'chromium',
  '/usr/bin/prometheus': 'prometheus',
  '/usr/bin/promtool': 'prometheus',
  '/usr/bin/prometheus-alertmanager': 'prometheus-alertmanager',
  '/usr/lib/python3/dist-packages/prometheus_client/openmetrics/parser.py': 'python3-prometheus-client',
};

/**
 * Whether the binaries exist. Returns the skip reason when they do not and skipping is allowed;
 * throws (failing the suite) when `REQUIRE_SYSTEM_DEPS=1`.
 */
export function missingSystemDeps(...binaries: string[]): string | undefined {
  const missing = binaries.filter((bin) => !fs.existsSync(bin));
  if (missing.length === 0) return undefined;
  const packages = [...new Set(missing.map((bin) => PACKAGE_OF[bin] ?? bin))].join(' ');
  const reason = `${missing.join(', ')} not installed: apt-get install -y ${packages}`;
  if (process.env.REQUIRE_SYSTEM_DEPS === '1') throw new Error(`REQUIRE_SYSTEM_DEPS=1 and ${reason}`);
  return reason;
}
