/**
 * Import rules between the folders (`npm run lint:deps`, part of `npm test`). Each folder has one
 * job (README "Layout"); these rules keep the arrows between them pointing one way.
 * @type {import('dependency-cruiser').IConfiguration}
 */

/**
 * The folders bottom up: at run time a folder imports only from lower layers, never sideways or up,
 * so no two folders form a cycle. Type-only imports are erased by the build and are left to the
 * named rules below.
 */
const LAYERS = [
  ['src/errors.ts'],
  // The dashboard's wire protocol sits with the server but is vocabulary (types, SCORE_KINDS,
  // SERIES_STATS) that the config schema and the performance monitor share with it.
  ['src/logger.ts', 'src/clock.ts', 'src/check-message.ts', 'src/server/protocol.ts'],
  ['src/otp/', 'src/metrics/', 'src/net/'],
  ['src/exposition/', 'src/store/', 'src/sources/', 'src/config/'],
  ['src/alerts/', 'src/export/', 'src/cluster/', 'src/performance/', 'src/server/'],
  ['src/notify/', 'src/cli/'],
  ['actors/'],
  ['src/index.ts', 'src/entries/'],
  ['src/demo/'],
];

const pathOf = (entry) => `^${entry.replace(/\./g, '\\.')}${entry.endsWith('/') ? '' : '$'}`;

const layerRules = LAYERS.slice(0, -1).flatMap((layer, i) =>
  layer.map((entry) => ({
    name: `layer-${entry.replace(/\.ts$/, '').replace(/\/$/, '').replace(/\//g, '-')}`,
    comment: `${entry} is in layer ${i} of LAYERS: at run time it imports only from layers below.`,
    severity: 'error',
    from: { path: pathOf(entry) },
    to: {
      path: [...LAYERS.slice(i + 1).flat(), ...layer.filter((other) => other !== entry)].map(pathOf),
      // A file placed in a lower layer than its folder stays reachable from above.
      pathNot: LAYERS.slice(0, i)
        .flat()
        .filter((lower) => !lower.endsWith('/'))
        .map(pathOf),
      dependencyTypesNot: ['type-only'],
    },
  })),
);

module.exports = {
  forbidden: [
    ...layerRules,
    {
      name: 'metrics-not-to-store',
      comment:
        "The metric table is the hot path, and the hot path never touches LMDB: moving the table in and out of the store is the store's job (src/store/table-store.ts).",
      severity: 'error',
      from: { path: '^src/metrics/' },
      to: { path: '^src/store/' },
    },
    {
      name: 'metrics-not-to-otp',
      comment:
        'The metric table works without the supervision tree: a host can record metrics before (or without) starting it.',
      severity: 'error',
      from: { path: '^src/metrics/' },
      to: { path: '^src/otp/' },
    },
    {
      name: 'otp-only-core',
      comment:
        'The OTP layer is generic (gen_server, supervisor, timers): it knows no actor, no metric and nothing else of the monitor; only the shared errors, logger, clock and message checks.',
      severity: 'error',
      from: { path: '^src/otp/' },
      to: { path: '^(src|actors)/', pathNot: ['^src/otp/', '^src/(errors|logger|clock|check-message)\\.ts$'] },
    },
    {
      name: 'parts-not-to-actors',
      comment:
        'The store, the channels and the server are parts the actors assemble; they take what they need as arguments and never call into an actor.',
      severity: 'error',
      from: { path: '^src/(store|notify|server)/' },
      to: { path: '^actors/' },
    },
    {
      name: 'src-not-to-actors',
      comment:
        'Only the package entries (src/index.ts and src/entries/, the subpath exports) reach into actors/ to start the tree; everything else in src/ is a part the actors use, so the arrows point from actors/ to src/.',
      severity: 'error',
      from: { path: '^src/', pathNot: ['^src/(store|notify|server|entries)/', '^src/index\\.ts$'] },
      to: { path: '^actors/' },
    },
    {
      name: 'server-not-to-channels',
      comment:
        'The dashboard server shows what alerting reports and never sends a notification itself. It may name the dead-letter record type it serves (src/notify/types.ts), nothing else of src/notify/.',
      severity: 'error',
      from: { path: '^src/server/' },
      to: { path: '^src/notify/', pathNot: '^src/notify/types\\.ts$' },
    },
    {
      name: 'server-channel-types-only',
      comment: 'What the server takes from src/notify/types.ts is types only: nothing of a channel runs in the server.',
      severity: 'error',
      from: { path: '^src/server/' },
      to: { path: '^src/notify/types\\.ts$', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'nact-only-in-otp',
      comment:
        'nact is confined to the OTP layer (src/otp/runtime.ts lists its defects and what works around them); everything else uses src/otp.',
      severity: 'error',
      from: { pathNot: '^src/otp/' },
      to: { path: '^nact$|node_modules/nact/' },
    },
    {
      name: 'lmdb-only-in-store',
      comment:
        'LMDB sits behind the store (one writer, commit guards, headroom checks); nothing else opens or writes it directly.',
      severity: 'error',
      from: { path: '^(src|actors)/', pathNot: '^src/store/' },
      to: { path: '^(lmdb|msgpackr)$|node_modules/(lmdb|msgpackr)/' },
    },
    {
      name: 'page-self-contained',
      comment:
        'The dashboard page is plain browser JavaScript served as is: it can import only its own files (its types come from src/server/protocol.ts through JSDoc, which is not an import).',
      severity: 'error',
      from: { path: '^src/dashboard-page/' },
      // globals.d.ts types the uPlot global the page loads with a script tag: a type, not an import.
      to: { pathNot: '^src/dashboard-page/', dependencyTypesNot: ['type-only', 'type-import'] },
    },
    {
      name: 'no-tests-or-benches-in-src',
      comment: 'Shipped code never depends on test or bench code (neither is in the package).',
      severity: 'error',
      from: { path: '^(src|actors)/' },
      to: { path: '^(test|bench)/' },
    },
    {
      name: 'no-circular',
      comment:
        'A module cycle makes load order matter. A cycle closed by a type-only import is erased at build time and does not count (src/store/store-queries.ts names a type of migrate-layout2.ts, which reads through it).',
      severity: 'error',
      from: {},
      to: { circular: true, viaOnly: { dependencyTypesNot: ['type-only'] } },
    },
    {
      name: 'not-to-unresolvable',
      comment:
        "An import that does not resolve would pass these rules unseen; typecheck catches most, this catches the page's plain JavaScript.",
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    // Test fixtures (.mjs) import the build: it is checked to resolve (npm test runs this after
    // `build`, which starts from an empty dist/), not cruised.
    doNotFollow: { path: ['node_modules', '^dist/'] },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    // NodeNext specifiers (`./x.js` naming ./x.ts) resolve through tsConfig; not-to-unresolvable shows it.
    enhancedResolveOptions: {
      extensions: ['.ts', '.js', '.mjs', '.d.ts'],
      exportsFields: ['exports'],
      conditionNames: ['import', 'types', 'node', 'default'],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
