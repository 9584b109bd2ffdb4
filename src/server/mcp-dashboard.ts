/**
 * The built-in "mcp" dashboard (`?dashboard=mcp`): what `instrument.mcp` measures (requests, request
 * and tool latency, errors by kind, sessions, cancellations, traffic), every instrumented server
 * summed; a host with several servers can configure one dashboard per server with `labels`. Chart by
 * chart: docs/design-notes.md.
 */
import type { DashboardDef } from './protocol.js';
import { MCP_METRICS } from '../sources/mcp-instrument.js';

const rate = (label: string, metric: string, prefix?: Record<string, string>) => ({
  label,
  metric,
  stat: 'rate' as const,
  ...(prefix === undefined ? {} : { label_prefix: prefix }),
});
const quantiles = (metric: string) => (['p50', 'p95', 'p99'] as const).map((stat) => ({ label: stat, metric, stat }));

/** The built-in "mcp" dashboard. */
export const MCP_DASHBOARD: DashboardDef = Object.freeze({
  name: 'mcp',
  title: 'MCP server',
  charts: [
    {
      id: 'mcp_requests',
      title: 'Requests',
      type: 'line',
      unit: 'req/s',
      series: [
        rate('all', MCP_METRICS.requests),
        rate('tools/call', MCP_METRICS.requests, { method: 'tools/call' }),
        rate('resources/read', MCP_METRICS.requests, { method: 'resources/read' }),
        rate('prompts/get', MCP_METRICS.requests, { method: 'prompts/get' }),
      ],
    },
    { id: 'mcp_latency', title: 'Request latency', type: 'line', unit: 'ms', series: quantiles(MCP_METRICS.duration) },
    {
      id: 'mcp_tool_latency',
      title: 'Tool call latency',
      type: 'line',
      unit: 'ms',
      series: quantiles(MCP_METRICS.toolDuration),
    },
    {
      id: 'mcp_errors',
      title: 'Errors',
      type: 'line',
      unit: 'errors/s',
      series: [
        rate('all', MCP_METRICS.errors),
        rate('tool errors', MCP_METRICS.errors, { code: 'tool_error' }),
        rate('invalid params', MCP_METRICS.errors, { code: '-32602' }),
        rate('method not found', MCP_METRICS.errors, { code: '-32601' }),
        rate('internal', MCP_METRICS.errors, { code: '-32603' }),
      ],
    },
    {
      id: 'mcp_sessions',
      title: 'Sessions',
      type: 'line',
      unit: 'sessions',
      series: [{ label: 'active', metric: MCP_METRICS.sessionsActive, stat: 'value' }],
    },
    {
      id: 'mcp_cancelled',
      title: 'Cancelled requests',
      type: 'line',
      unit: 'req/s',
      series: [
        rate('timeout', MCP_METRICS.cancelled, { reason: 'timeout' }),
        rate('cancelled', MCP_METRICS.cancelled, { reason: 'cancelled' }),
        rate('session closed', MCP_METRICS.cancelled, { reason: 'closed' }),
      ],
    },
    {
      id: 'mcp_bytes',
      title: 'Traffic',
      type: 'line',
      unit: 'bytes/s',
      series: [rate('received', MCP_METRICS.receivedBytes), rate('sent', MCP_METRICS.sentBytes)],
    },
  ],
} satisfies DashboardDef);
