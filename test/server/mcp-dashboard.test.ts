import { request } from 'node:http';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { afterEach, describe, expect, it } from 'vitest';
import type { RealtimeResponse } from '../../src/server/protocol.js';
import { instrumentMcp } from '../../src/sources/mcp-instrument.js';
// @ts-expect-error a plain .mjs fixture, shared with the stdio child
import { buildServer } from '../sources/fixtures/mcp-server-fixture.mjs';
import { runCleanups, startDashboard } from './dashboard-fixture.js';

afterEach(runCleanups);

function realtime(url: string): Promise<RealtimeResponse> {
  return new Promise((resolve, reject) => {
    request(`${url}/api/realtime?dashboard=mcp`, { agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve(JSON.parse(body) as RealtimeResponse));
    })
      .on('error', reject)
      .end();
  });
}

describe('the built-in mcp dashboard', () => {
  it('plots what instrument.mcp measures (?dashboard=mcp)', async () => {
    const f = await startDashboard();
    const server = buildServer(McpServer) as McpServer;
    const [a, b] = InMemoryTransport.createLinkedPair();
    await server.connect(b);
    // Instrumented after connect(): the SDK's handlers already set are wrapped.
    instrumentMcp(f.registry, server);
    const client = new Client({ name: 'test', version: '1.0.0' });
    await client.connect(a);
    await client.callTool({ name: 'add', arguments: { a: 1, b: 2 } });
    await client.callTool({ name: 'boom', arguments: {} });

    const first = await realtime(f.url);
    const at = f.clock.now;
    expect(first.dashboard).toBe('mcp');
    expect(first.charts.mcp_sessions).toEqual({ active: [at, 1] });
    expect(first.charts.mcp_tool_latency!.p95![1]).toEqual(expect.any(Number));
    expect(first.charts.mcp_latency!.p99![1]).toEqual(expect.any(Number));

    // Two seconds later, four more calls (one a tool error): rates per second.
    f.clock.now += 2000;
    for (let i = 0; i < 3; i++) await client.callTool({ name: 'add', arguments: { a: i, b: 1 } });
    await client.callTool({ name: 'boom', arguments: {} });
    const second = await realtime(f.url);
    expect(second.charts.mcp_requests!['tools/call']).toEqual([f.clock.now, 2]);
    expect(second.charts.mcp_errors!['tool errors']).toEqual([f.clock.now, 0.5]);
    expect(second.charts.mcp_errors!['invalid params']).toEqual([f.clock.now, null]);
    await client.close();
    expect((await realtime(f.url)).charts.mcp_sessions).toEqual({ active: [f.clock.now, 0] });
  });
});
