/**
 * Tests that drive a Debian binary (chromium, prometheus, promtool, prometheus-alertmanager) skip
 * themselves with the apt-get line when it is absent, so `npm test` works on a bare machine; with
 * `REQUIRE_SYSTEM_DEPS=1` (set by `.ci/run`) absence fails instead.
 */
import fs from 'node:fs';

/** The Debian packages that provide each binary. */
const PACKAGE_OF: Record<string, string> = {
  '/usr/bin/chromium': 'chromium',
  '/usr/bin/prometheus': 'prometheus',
  '/usr/bin/promtool': 'prometheus',
  '/usr/bin/prometheus-alertmanager': 'prometheus-alertmanager',
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
