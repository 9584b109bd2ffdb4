/**
 * `npm start`: the embedded demo. Starts the monitoring tree and keeps it running until Ctrl-C,
 * then stops it in order.
 */
import { startMonitoring } from '../index.js';

const mon = await startMonitoring();
console.log('erlmcp-monitor: supervision tree started (erlmcp_monitor_sup). Press Ctrl-C to stop.');

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  console.log(`\n${signal}: stopping the monitoring tree...`);
  await mon.stop();
  console.log('stopped cleanly.');
}
process.once('SIGINT', () => void shutdown('SIGINT'));
process.once('SIGTERM', () => void shutdown('SIGTERM'));
// The tree's timers keep the process alive; this keeps the demo alive even with no children yet.
const keepAlive = setInterval(() => {}, 1 << 30);
void mon.stopped.then(() => clearInterval(keepAlive));
