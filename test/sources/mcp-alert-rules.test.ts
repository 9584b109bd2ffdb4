import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { describe, expect, it } from 'vitest';
import { compileMatchers } from '../../src/alerts/label-matcher.js';
import { checkRule, holds } from '../../src/alerts/rule.js';
import { sampleRule } from '../../src/alerts/rule-samples.js';
import { DerivedValues } from '../../src/metrics/derived-values.js';
import { instrumentMcp } from '../../src/sources/mcp-instrument.js';
import { newRegistry } from '../metrics/table-fixture.js';
// @ts-expect-error a plain .mjs fixture, shared with the stdio child
import { buildServer } from './fixtures/mcp-server-fixture.mjs';

const doc = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'docs', 'integrations', 'mcp.md');

describe('the example MCP alert rules in docs/integrations/mcp.md', () => {
  it('are valid rules that read what instrument.mcp writes', async () => {
    const blocks = [...readFileSync(doc, 'utf8').matchAll(/```json\n([\s\S]*?)```/g)].map(
      (m) => JSON.parse(m[1]!) as unknown[],
    );
    expect(blocks).toHaveLength(1);
    const [ratio, p95] = blocks[0]!.map((r) => checkRule(r));
    expect([ratio!.name, p95!.name]).toEqual(['mcp_tool_error_ratio', 'mcp_tools_call_p95']);

    const { registry } = newRegistry();
    const server = buildServer(McpServer) as McpServer;
    instrumentMcp(registry, server);
    const [a, b] = InMemoryTransport.createLinkedPair();
    await server.connect(b);
    const client = new Client({ name: 'test', version: '1.0.0' });
    await client.connect(a);
    for (let i = 0; i < 19; i++) await client.callTool({ name: 'add', arguments: { a: i, b: 1 } });
    await client.callTool({ name: 'add', arguments: { a: 'not a number', b: 1 } });
    await client.callTool({ name: 'boom', arguments: {} });
    await client.close();

    const derived = new DerivedValues();
    const firing = (rule: typeof ratio) =>
      sampleRule(rule!, compileMatchers(rule!.matchers), registry, derived)
        .filter((s) => holds(rule!.condition, s.value, rule!.threshold))
        .map((s) => [s.labels.tool ?? s.labels.method, s.value]);
    // add: 1 error in 20 calls (5 %, not over); boom: every call.
    expect(firing(ratio)).toEqual([['boom', 1]]);
    const samples = sampleRule(p95!, compileMatchers(p95!.matchers), registry, derived);
    expect(samples.map((s) => s.labels.method)).toEqual(['tools/call']);
    expect(samples[0]!.value).toEqual(expect.any(Number));
  });
});
