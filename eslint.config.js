// ESLint flat config: typescript-eslint's strict type-aware rules over the TypeScript tree,
// the recommended JavaScript rules over the dashboard page (a browser ES module, no build step).
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';
import ts from 'typescript';

// Without noUncheckedIndexedAccess every `xs[i]!` reads as a needless assertion; the rule is on once tsconfig.json has the flag.
const indexedAccessChecked =
  ts.readConfigFile(`${import.meta.dirname}/tsconfig.json`, ts.sys.readFile).config?.compilerOptions
    ?.noUncheckedIndexedAccess === true;

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**'] },
  {
    files: ['**/*.ts'],
    extends: [js.configs.recommended, tseslint.configs.strictTypeChecked, tseslint.configs.stylisticTypeChecked],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-unnecessary-type-assertion': indexedAccessChecked ? 'error' : 'off',
      // Public entry points check their typed arguments again at run time (JavaScript callers, `as any`) to throw a
      // MonitorError instead of crashing the host; the rule calls each such check unnecessary.
      '@typescript-eslint/no-unnecessary-condition': 'off',
      // Indexed reads are asserted with `!` where the index is known in range (the noUncheckedIndexedAccess idiom);
      // the hot paths (label-map, histogram, frame-builder) index typed arrays this way instead of checking.
      '@typescript-eslint/no-non-null-assertion': 'off',
      // Numbers in messages are the common case (`at most ${MAX}`); objects, unions with undefined stay errors.
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
      // `(x) => set.add(x)` and `() => expect(...)` read better unbraced; a void value used anywhere else stays an error.
      '@typescript-eslint/no-confusing-void-expression': ['error', { ignoreArrowShorthand: true }],
      // An `async` function that does not await still turns a throw into a rejection, which Promise-returning
      // contracts here (sources, channels, behaviours) rely on.
      '@typescript-eslint/require-await': 'off',
      // `() => {}` is the no-op listener (`req.on('error', () => {})`), `function noop() {}` the disabled hot path;
      // empty methods stay errors.
      '@typescript-eslint/no-empty-function': ['error', { allow: ['arrowFunctions', 'functions'] }],
      // `x === undefined ? d : x` lets a null from a JavaScript caller reach the validator instead of becoming `d`.
      '@typescript-eslint/prefer-nullish-coalescing': ['error', { ignoreTernaryTests: true }],
      // A caught `unknown` is passed on as it came.
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingUnknown: true }],
      // parse-json.ts throws its position marker SyntaxAt, caught in the same file.
      '@typescript-eslint/only-throw-error': [
        'error',
        { allow: [{ from: 'file', name: 'SyntaxAt', path: 'src/config/parse-json.ts' }] },
      ],
      // `interface RegisterOptions extends HistogramOptions {}` names a public option type.
      '@typescript-eslint/no-empty-object-type': ['error', { allowInterfaces: 'with-single-extends' }],
      // `let x; const f = () => x; ... x = v;`: a closure made before the value exists reads the later assignment.
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
      // live-reader casts a Series to its class after checking its `type` field.
      '@typescript-eslint/no-unsafe-class-instance-assignment': 'off',
      // `const { type: _t, ...rest } = msg` drops a field; `_name` marks a parameter a signature requires.
      '@typescript-eslint/no-unused-vars': [
        'error',
        { ignoreRestSiblings: true, argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' },
      ],
      // Strings from the wire, LMDB and error objects are typed string but converted anyway: a non-string there
      // would otherwise crash an error path.
      '@typescript-eslint/no-unnecessary-type-conversion': 'off',
      // It rewrites `x !== undefined && x.id === y` to `x?.id === y`, which is also true when both are undefined.
      '@typescript-eslint/prefer-optional-chain': 'off',
      // gen-server and the instruments take methods off objects to wrap them and call them with `.call(target, ...)`.
      '@typescript-eslint/unbound-method': 'off',
    },
  },
  {
    files: ['src/sources/mcp-instrument.ts', 'src/sources/pg-instrument.ts'],
    rules: {
      // The wrappers mirror the MCP SDK's and pg's own `any` signatures so a user's Transport or Pool is assignable,
      // and pass pg's `arguments` through unchanged, whatever the overload.
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      'prefer-rest-params': 'off',
      // Uninstalling deletes the own property the wrapper added, whichever method it was.
      '@typescript-eslint/no-dynamic-delete': 'off',
    },
  },
  {
    files: ['src/notify/email-channel.ts'],
    // @types/nodemailer's createTransport returns `Mail<any, any>`.
    rules: { '@typescript-eslint/no-unsafe-assignment': 'off' },
  },
  {
    files: ['src/otp/runtime.ts'],
    // nact's `Ref<M>` resolves to an empty object type; this file is where nact is confined.
    rules: { '@typescript-eslint/no-generated-empty-object-type': 'off' },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      // Tests and benches read untyped JSON bodies and reach into internals on purpose; the assertions are the check.
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      // Stubs of logger/transport interfaces are empty methods by design.
      '@typescript-eslint/no-empty-function': 'off',
      // `expect(pool.connect).toBe(pg.Pool.prototype.connect)` compares methods without calling them.
      '@typescript-eslint/unbound-method': 'off',
      // `getJson<T>(url)` names the body type a test expects; the cast is the point.
      '@typescript-eslint/no-unnecessary-type-parameters': 'off',
      // ws hands these tests a Buffer; `data.toString()` is its text.
      '@typescript-eslint/no-base-to-string': 'off',
      // Bad-input tests delete label keys, spread ASCII tokens and copy Error fields into plain objects on purpose.
      '@typescript-eslint/no-dynamic-delete': 'off',
      '@typescript-eslint/no-misused-spread': 'off',
      '@typescript-eslint/no-empty-object-type': 'off',
      // `onSecond: () => Promise<boolean | void>` takes both a check that answers and a plain async step.
      '@typescript-eslint/no-invalid-void-type': 'off',
      // The low-level MCP `Server` and `toMatchTypeOf` are covered on purpose.
      '@typescript-eslint/no-deprecated': 'off',
    },
  },
  {
    files: ['bench/**/*.ts'],
    rules: {
      // Bench loops mirror the indexed loops of the hot path they measure.
      '@typescript-eslint/prefer-for-of': 'off',
      // `void sink;` keeps a result alive so the loop is not optimised away.
      '@typescript-eslint/no-meaningless-void-operator': 'off',
      // The metrics bench compiles one unrolled loop per contender with `new Function`, so each gets its own call site.
      '@typescript-eslint/no-implied-eval': 'off',
    },
  },
  {
    files: ['test/**/*.test-d.ts'],
    // `void x;` marks a binding that exists only for its type as used.
    rules: { '@typescript-eslint/no-meaningless-void-operator': 'off' },
  },
  {
    files: ['src/dashboard-page/**/*.js'],
    extends: [js.configs.recommended],
    // uPlot is loaded by a script tag (index.html) and typed in globals.d.ts.
    languageOptions: { globals: { ...globals.browser, uPlot: 'readonly' }, sourceType: 'module' },
  },
  {
    files: ['test/**/*.mjs', '*.js'],
    extends: [js.configs.recommended],
    languageOptions: { globals: globals.node, sourceType: 'module' },
  },
);
