// force timezone to UTC to allow tests to work regardless of local timezone
// generally used by snapshots, but can affect specific tests
process.env.TZ = 'UTC';

const base = require('./.config/jest.config');

module.exports = {
  // Jest configuration provided by Grafana scaffolding
  ...base,
  transform: {
    ...base.transform,
    // @grafana/data 12.0 pulls d3-color, which ships only an ES module (.mjs): compile it like the sources.
    '^.+\\.mjs$': base.transform['^.+\\.(t|j)sx?$'],
  },
  // Editor tests type into real @grafana/ui components; on a shared 2-core machine that can take seconds.
  testTimeout: 30000,
  // The browser check (browser-test/) runs under playwright-core, not jest.
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/browser-test/', '<rootDir>/dist/'],
};
