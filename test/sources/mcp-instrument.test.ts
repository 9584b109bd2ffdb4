import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { CallToolResultSchema, EmptyResultSchema, McpError } from '@modelcontextprotocol/sdk/types.js';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors.js';
import type { MetricSnapshot, Registry } from '../../src/metrics/registry.js';
import { HTTP_METRICS, instrumentHttp } from '../../src/sources/http-instrument.js';
import { instrumentMcp, MCP_METRICS } from '../../src/sources/mcp-instrument.js';
import { expectMonitorError, until } from '../helpers.js';
import { newRegistry } from '../metrics/table-fixture.js';
import { runCleanups as stopTrees, startTree } from '../faults/tree-fixture.js';
// @ts-expect-error a plain .mjs fixture, shared with the stdio child
import { buildServer } from './fixtures/mcp-server-fixture.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
  await stopTrees();
});

/** What `drive` sends; the instrumentation must count exactly this. */
async function drive(client: Client): Promise<void> {
  await client.listTools();
  for (let i = 0; i < 3; i++)
    expect(await client.callTool({ name: 'add', arguments: { a: i, b: 1 } })).toMatchObject({
      content: [{ text: String(i + 1) }],
    });
  expect(await client.callTool({ name: 'boom', arguments: {} })).toMatchObject({ isError: true });
  expect(await client.callTool({ name: 'no-such-tool', arguments: {} })).toMatchObject({ isError: true });
  expect(await client.callTool({ name: 'add', arguments: { a: 'x', b: 1 } })).toMatchObject({ isError: true });
  // A tools/call whose params fail the SDK's request schema: the SDK (1.32) answers -32603.
  await expect(
    client.request({ method: 'tools/call', params: { name: 7 } }, CallToolResultSchema),
  ).rejects.toMatchObject({ code: -32603 });
  await expect(client.request({ method: 'no/such-method', params: {} }, EmptyResultSchema)).rejects.toMatchObject({
    code: -32601,
  });
  await client.readResource({ uri: 'config://app' });
  await client.readResource({ uri: 'users://42/profile' });
  await client.readResource({ uri: 'users://43/profile' });
  await expect(client.readResource({ uri: 'secret://raw/uri' })).rejects.toBeInstanceOf(McpError);
  await client.getPrompt({ name: 'greet', arguments: { name: 'Ann' } });
  await expect(client.getPrompt({ name: 'missing', arguments: {} })).rejects.toMatchObject({ code: -32602 });
  // Invalid params: the prompt's arguments fail its schema.
  await expect(client.getPrompt({ name: 'greet', arguments: {} })).rejects.toMatchObject({ code: -32602 });
  // One request the client gives up on after 200 ms (timeout), one it cancels.
  await expect(client.callTool({ name: 'wait', arguments: {} }, undefined, { timeout: 200 })).rejects.toMatchObject({
    code: -32001,
  });
  const abort = new AbortController();
  const waiting = client.callTool({ name: 'wait', arguments: {} }, undefined, {
    signal: abort.signal,
    timeout: 30_000,
  });
  setTimeout(() => abort.abort('changed my mind'), 50);
  await expect(waiting).rejects.toThrow();
  await client.ping();
}

/** The value of one series in a collect() answer (a histogram's count), or undefined. */
function valueIn(snapshot: MetricSnapshot[], metric: string, labels: Record<string, string>): number | undefined {
  const m = snapshot.find((x) => x.name === metric);
  const s = m?.series.find(
    (x) =>
      Object.entries(labels).every(([k, v]) => x.labels[k] === v) &&
      Object.keys(x.labels).length === Object.keys(labels).length,
  );
  if (s === undefined) return undefined;
  return typeof s.value === 'number' ? s.value : (s.value as { count: number }).count;
}

function expectDriven(snapshot: MetricSnapshot[], server: string, transport: string, sessions: number): void {
  const v = (metric: string, labels: Record<string, string>) => valueIn(snapshot, metric, { server, ...labels });
  const requests = {
    initialize: sessions,
    'tools/list': sessions,
    'tools/call': 9 * sessions,
    other: sessions,
    'resources/read': 4 * sessions,
    'prompts/get': 3 * sessions,
    ping: sessions,
  };
  for (const [method, n] of Object.entries(requests)) {
    expect(v(MCP_METRICS.requests, { method }), method).toBe(n);
    expect(v(MCP_METRICS.duration, { method }), method).toBe(n);
  }
  expect(
    snapshot.find((m) => m.name === MCP_METRICS.requests)!.series.filter((s) => s.labels.server === server),
  ).toHaveLength(Object.keys(requests).length);
  // Tool errors are results with isError (McpServer's answer to a throw, bad arguments and an
  // unknown tool); JSON-RPC errors keep their code.
  expect(v(MCP_METRICS.errors, { method: 'tools/call', code: 'tool_error' })).toBe(3 * sessions);
  expect(v(MCP_METRICS.errors, { method: 'tools/call', code: '-32603' })).toBe(sessions);
  expect(v(MCP_METRICS.errors, { method: 'other', code: '-32601' })).toBe(sessions);
  expect(v(MCP_METRICS.errors, { method: 'resources/read', code: '-32602' })).toBe(sessions);
  expect(v(MCP_METRICS.errors, { method: 'prompts/get', code: '-32602' })).toBe(2 * sessions);
  expect(
    snapshot.find((m) => m.name === MCP_METRICS.errors)!.series.filter((s) => s.labels.server === server),
  ).toHaveLength(5);

  expect(v(MCP_METRICS.toolCalls, { tool: 'add' })).toBe(4 * sessions);
  expect(v(MCP_METRICS.toolCalls, { tool: 'boom' })).toBe(sessions);
  expect(v(MCP_METRICS.toolCalls, { tool: 'wait' })).toBe(2 * sessions);
  // The unregistered name and the call without a name are "unknown", never the name sent.
  expect(v(MCP_METRICS.toolCalls, { tool: 'unknown' })).toBe(2 * sessions);
  expect(v(MCP_METRICS.toolDuration, { tool: 'add' })).toBe(4 * sessions);
  expect(v(MCP_METRICS.toolErrors, { tool: 'add', code: 'tool_error' })).toBe(sessions);
  expect(v(MCP_METRICS.toolErrors, { tool: 'boom', code: 'tool_error' })).toBe(sessions);
  expect(v(MCP_METRICS.toolErrors, { tool: 'unknown', code: 'tool_error' })).toBe(sessions);
  expect(v(MCP_METRICS.toolErrors, { tool: 'unknown', code: '-32603' })).toBe(sessions);
  expect(v(MCP_METRICS.toolErrorRatio, { tool: 'add' })).toBe(0.25);
  expect(v(MCP_METRICS.toolErrorRatio, { tool: 'boom' })).toBe(1);
  expect(v(MCP_METRICS.toolErrorRatio, { tool: 'wait' })).toBe(0);

  expect(v(MCP_METRICS.resourceReads, { template: 'config://app' })).toBe(sessions);
  expect(v(MCP_METRICS.resourceReads, { template: 'users://{id}/profile' })).toBe(2 * sessions);
  expect(v(MCP_METRICS.resourceReads, { template: 'unmatched' })).toBe(sessions);
  expect(v(MCP_METRICS.promptGets, { prompt: 'greet' })).toBe(2 * sessions);
  expect(v(MCP_METRICS.promptGets, { prompt: 'unknown' })).toBe(sessions);
  expect(JSON.stringify(snapshot)).not.toContain('secret://');
  expect(JSON.stringify(snapshot)).not.toContain('no-such-tool');

  expect(v(MCP_METRICS.notifications, { direction: 'in', method: 'notifications/initialized' })).toBe(sessions);
  expect(v(MCP_METRICS.notifications, { direction: 'in', method: 'notifications/cancelled' })).toBe(2 * sessions);
  expect(v(MCP_METRICS.cancelled, { direction: 'in', method: 'tools/call', reason: 'timeout' })).toBe(sessions);
  expect(v(MCP_METRICS.cancelled, { direction: 'in', method: 'tools/call', reason: 'cancelled' })).toBe(sessions);

  expect(v(MCP_METRICS.sessionsOpened, { transport })).toBe(sessions);
  expect(v(MCP_METRICS.sessionsClosed, { transport })).toBe(sessions);
  expect(v(MCP_METRICS.sessionsActive, { transport })).toBe(0);
  expect(v(MCP_METRICS.sessionDuration, { transport })).toBe(sessions);
}

/** A Streamable HTTP MCP service on 127.0.0.1: one McpServer and transport per session, each instrumented. */
async function httpService(registry: Registry) {
  const transports = new Map<string, StreamableHTTPServerTransport>();
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const id = req.headers['mcp-session-id'];
    let transport = typeof id === 'string' ? transports.get(id) : undefined;
    if (transport === undefined) {
      if (req.method !== 'POST' || id !== undefined) return void res.writeHead(404).end();
      const created = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (sid) => void transports.set(sid, created),
      });
      created.onclose = () => {
        if (created.sessionId !== undefined) transports.delete(created.sessionId);
      };
      const server = buildServer(McpServer) as McpServer;
      instrumentMcp(registry, server, { name: 'http-mcp' });
      await server.connect(created);
      transport = created;
    }
    await transport.handleRequest(req, res);
  };
  const http = createServer((req, res) => void handle(req, res).catch(() => res.writeHead(500).end()));
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  closers.push(async () => {
    for (const t of transports.values()) await t.close();
    await new Promise<void>((r) => {
      http.close(() => r());
      http.closeAllConnections();
    });
  });
  return { http, url: new URL(`http://127.0.0.1:${(http.address() as AddressInfo).port}/mcp`) };
}

describe('instrument.mcp', () => {
  it('counts requests, latencies, error codes, tools, resources, prompts, cancels and sessions over Streamable HTTP', async () => {
    const { registry } = newRegistry();
    const { http, url } = await httpService(registry);
    instrumentHttp(registry, http, { name: 'mcp-http' });
    for (let session = 0; session < 2; session++) {
      const transport = new StreamableHTTPClientTransport(url);
      const client = new Client({ name: 'test', version: '1.0.0' });
      await client.connect(transport);
      await drive(client);
      expect(
        valueIn(registry.collect(), MCP_METRICS.sessionsActive, { server: 'http-mcp', transport: 'streamable-http' }),
      ).toBe(1);
      await transport.terminateSession();
      await client.close();
    }
    await until(() =>
      expect(
        valueIn(registry.collect(), MCP_METRICS.sessionsClosed, { server: 'http-mcp', transport: 'streamable-http' }),
      ).toBe(2),
    );
    expectDriven(registry.collect(), 'http-mcp', 'streamable-http', 2);

    // Bytes: every request on the server went through handleRequest, so once the sockets have
    // closed, the MCP byte counts equal instrument.http's socket counts.
    await closers.pop()!();
    await until(() => expect(registry.require(HTTP_METRICS.connections, 'gauge').get({ server: 'mcp-http' })).toBe(0));
    const snapshot = registry.collect();
    const received = valueIn(snapshot, MCP_METRICS.receivedBytes, {
      server: 'http-mcp',
      transport: 'streamable-http',
    })!;
    const sent = valueIn(snapshot, MCP_METRICS.sentBytes, { server: 'http-mcp', transport: 'streamable-http' })!;
    expect(received).toBeGreaterThan(1000);
    expect(received).toBe(valueIn(snapshot, HTTP_METRICS.receivedBytes, { server: 'mcp-http' }));
    expect(sent).toBe(valueIn(snapshot, HTTP_METRICS.sentBytes, { server: 'mcp-http' }));
  });

  it("counts the same over stdio, in a child process driven by the SDK client, with the streams' bytes", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'mcp-stdio-'));
    closers.push(async () => rmSync(dir, { recursive: true, force: true }));
    const out = path.join(dir, 'metrics.json');
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [path.join(here, 'fixtures', 'mcp-stdio-child.mjs'), out],
      stderr: 'pipe',
    });
    // The bytes the client writes to the child's stdin and reads from its stdout, as the stdio
    // transport frames them (one JSON text and a newline per message).
    let written = 0;
    let read = 0;
    const send = transport.send.bind(transport);
    transport.send = (message) => {
      written += Buffer.byteLength(`${JSON.stringify(message)}\n`);
      return send(message);
    };
    // Set before connect(): the SDK's connect() calls a handler already set before its own.
    transport.onmessage = (message) => void (read += Buffer.byteLength(`${JSON.stringify(message)}\n`));
    const client = new Client({ name: 'test', version: '1.0.0' });
    await client.connect(transport);
    let stderr = '';
    transport.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    await drive(client);
    const exited = new Promise<void>((resolve) =>
      (transport as unknown as { _process: import('node:child_process').ChildProcess })._process.once('exit', () =>
        resolve(),
      ),
    );
    await client.close();
    await exited;
    const snapshot = JSON.parse(readFileSync(out, 'utf8')) as MetricSnapshot[];
    expect(stderr).toBe('');
    expectDriven(snapshot, 'stdio-mcp', 'stdio', 1);
    expect(valueIn(snapshot, MCP_METRICS.receivedBytes, { server: 'stdio-mcp', transport: 'stdio' })).toBe(written);
    expect(valueIn(snapshot, MCP_METRICS.sentBytes, { server: 'stdio-mcp', transport: 'stdio' })).toBe(read);
  });

  it('does not load the SDK when erlmcp-monitor is imported', async () => {
    // A loader in the child refuses every resolution of the SDK: the index loads all the same,
    // and the refusal itself is shown to work on a direct import of the SDK.
    const script = `
      import { register } from 'node:module';
      register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(REFUSE_SDK)}));
      await import(${JSON.stringify(path.join(here, '..', '..', 'dist', 'src', 'index.js'))});
      console.log('index loaded');
      await import('@modelcontextprotocol/sdk/types.js').then(() => console.log('sdk loaded'), (err) => console.log(err.message));
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      cwd: path.join(here, '..', '..'),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    await new Promise<void>((resolve) => child.on('exit', () => resolve()));
    expect(out.trim().split('\n')).toEqual(['index loaded', 'refused @modelcontextprotocol/sdk/types.js']);
  });

  it('rejects what is not an MCP server and bad options, registering nothing', () => {
    const { registry } = newRegistry();
    expectMonitorError(
      () => instrumentMcp(registry, {} as never),
      ErrorCode.InvalidOption,
      /expected an McpServer or a Server/,
    );
    const server = buildServer(McpServer) as McpServer;
    expectMonitorError(
      () => instrumentMcp(registry, server, { maxNames: 0 }),
      ErrorCode.InvalidOption,
      /maxNames must be a positive integer, got 0/,
    );
    expectMonitorError(
      () => instrumentMcp(registry, server, { name: '' }),
      ErrorCode.InvalidOption,
      /name must be a non-empty string/,
    );
    expect(registry.get(MCP_METRICS.requests)).toBeUndefined();
    registry.counter(MCP_METRICS.errors);
    expectMonitorError(() => instrumentMcp(registry, server, { name: 'x' }), ErrorCode.MetricConflict, /mcp\.errors/);
  });

  it('caps tool names of a low-level Server at maxNames and stops counting once removed', async () => {
    const { registry, logger } = newRegistry();
    const { Server } = await import('@modelcontextprotocol/sdk/server/index.js');
    const { InMemoryTransport } = await import('@modelcontextprotocol/sdk/inMemory.js');
    const { CallToolRequestSchema } = await import('@modelcontextprotocol/sdk/types.js');
    const server = new Server({ name: 'low', version: '1' }, { capabilities: { tools: {} } });
    server.setRequestHandler(CallToolRequestSchema, async () => ({ content: [] }));
    const remove = instrumentMcp(registry, server, { name: 'low', maxNames: 2 }, logger);
    const [a, b] = InMemoryTransport.createLinkedPair();
    await server.connect(b);
    const client = new Client({ name: 'test', version: '1.0.0' });
    await client.connect(a);
    for (const name of ['t1', 't2', 't3', 't4', 't1']) await client.callTool({ name, arguments: {} });
    const calls = registry.require(MCP_METRICS.toolCalls, 'counter');
    expect(calls.series().map((s) => [s.labels.tool, s.value])).toEqual([
      ['t1', 2],
      ['t2', 1],
      ['other', 2],
    ]);
    expect(logger.records.filter((r) => r.msg.includes('more than 2 distinct tool names'))).toHaveLength(1);
    expect(registry.require(MCP_METRICS.sessionsActive, 'gauge').get({ server: 'low', transport: 'in-memory' })).toBe(
      1,
    );
    // The in-memory transport has no bytes to count: no byte series (a 0 would say "no traffic").
    expect(registry.require(MCP_METRICS.receivedBytes, 'counter').series()).toEqual([]);
    remove();
    await client.callTool({ name: 't1', arguments: {} });
    expect(calls.get({ server: 'low', tool: 't1' })).toBe(2);
    expect(registry.require(MCP_METRICS.sessionsActive, 'gauge').get({ server: 'low', transport: 'in-memory' })).toBe(
      0,
    );
    await client.close();
  });
});

describe('instrument.mcp, requests the server sends', () => {
  it('counts a server-to-client request that timed out as cancelled out, reason timeout', async () => {
    const { registry } = newRegistry();
    const { InMemoryTransport } = await import('@modelcontextprotocol/sdk/inMemory.js');
    const { CreateMessageRequestSchema } = await import('@modelcontextprotocol/sdk/types.js');
    const server = buildServer(McpServer) as McpServer;
    instrumentMcp(registry, server, { name: 'out' });
    const [a, b] = InMemoryTransport.createLinkedPair();
    await server.connect(b);
    const client = new Client({ name: 'test', version: '1.0.0' }, { capabilities: { sampling: {} } });
    // A client that answers a sampling request only when it is cancelled.
    client.setRequestHandler(
      CreateMessageRequestSchema,
      (_request, extra) =>
        new Promise((resolve) =>
          extra.signal.addEventListener('abort', () =>
            resolve({ model: 'm', role: 'assistant', content: { type: 'text', text: '' } }),
          ),
        ),
    );
    await client.connect(a);
    await expect(server.server.createMessage({ messages: [], maxTokens: 1 }, { timeout: 100 })).rejects.toMatchObject({
      code: -32001,
    });
    const cancelled = registry.require(MCP_METRICS.cancelled, 'counter');
    expect(
      cancelled.get({ server: 'out', direction: 'out', method: 'sampling/createMessage', reason: 'timeout' }),
    ).toBe(1);
    expect(
      registry
        .require(MCP_METRICS.notifications, 'counter')
        .get({ server: 'out', direction: 'out', method: 'notifications/cancelled' }),
    ).toBe(1);
    await client.close();
  });
});

describe('Monitor.instrument.mcp', () => {
  it("measures into the monitor's table and exposition, and is removed by stop()", async () => {
    const { mon } = await startTree();
    const { InMemoryTransport } = await import('@modelcontextprotocol/sdk/inMemory.js');
    const server = buildServer(McpServer) as McpServer;
    mon.instrument.mcp(server, { name: 'tree' });
    const [a, b] = InMemoryTransport.createLinkedPair();
    await server.connect(b);
    const client = new Client({ name: 'test', version: '1.0.0' });
    await client.connect(a);
    await client.callTool({ name: 'add', arguments: { a: 1, b: 2 } });
    expect(mon.metrics.require(MCP_METRICS.toolCalls, 'counter').get({ server: 'tree', tool: 'add' })).toBe(1);
    expect(await mon.metricsText()).toMatch(/^mcp_tool_calls_total\{server="tree",tool="add"\} 1$/m);
    // The application cannot take an owned name.
    expectMonitorError(() => mon.metrics.counter(MCP_METRICS.requests), ErrorCode.MetricConflict, /instrument\.mcp/);
    await mon.stop();
    await client.callTool({ name: 'add', arguments: { a: 1, b: 2 } });
    expect(mon.metrics.require(MCP_METRICS.toolCalls, 'counter').get({ server: 'tree', tool: 'add' })).toBe(1);
    await client.close();
  });
});

/** A module loader (module.register) that refuses to resolve the SDK. */
const REFUSE_SDK = `export async function resolve(specifier, context, next) {
  if (specifier.includes('@modelcontextprotocol')) throw new Error('refused ' + specifier);
  return next(specifier, context);
}`;
