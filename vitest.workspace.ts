// The packages' test projects. The root vitest.config.ts passes this list as
// `test.projects`, the form Vitest 3.2 reads without a deprecation warning.
export default ["packages/*/vitest.config.ts"]
