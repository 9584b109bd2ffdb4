/**
 * What the dashboard says when it cannot bind its address. Node's own `listen EADDRINUSE
 * 127.0.0.1:8080` names neither the setting that chose the port nor the ways out, so the error
 * names the config key, its environment variable, port 0 and switching the dashboard off.
 */
import { ErrorCode, MonitorError } from '../errors.js';

const WAYS_OUT =
  'set dashboard.port ("port" in dashboard.json, config: { dashboard: { port } }, or ERLMCP_DASHBOARD_PORT) to a free port, ' +
  'or to 0 for any free port (mon.dashboardAddress() tells which), or run without the dashboard: dashboard.dashboard_enabled false';

/**
 * The error to report for a failed `listen(port, host)` of the dashboard.
 * @param err what `listen` failed with
 * @returns a `MonitorError` with code `EMON_LISTEN_FAILED` and the listen error as `cause`
 */
export function listenError(err: unknown, host: string, port: number): MonitorError {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const where = `the dashboard cannot listen on ${host.includes(':') ? `[${host}]` : host}:${port}`;
  let why: string;
  switch (code) {
    case 'EADDRINUSE':
      why = `the port is in use (EADDRINUSE); ${WAYS_OUT}`;
      break;
    case 'EACCES':
      why = `not permitted (EACCES; ports below 1024 need privileges); ${WAYS_OUT}`;
      break;
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
      why = `${JSON.stringify(host)} is not an address of this machine (${code}); set dashboard.host (ERLMCP_DASHBOARD_HOST), e.g. to 127.0.0.1`;
      break;
    default:
      why = `${err instanceof Error ? err.message : String(err)}; ${WAYS_OUT}`;
  }
  return new MonitorError(ErrorCode.ListenFailed, `${where}: ${why}`, { cause: err });
}
