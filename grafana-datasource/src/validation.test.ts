import { AnomalyQuery, DEFAULT_QUERY } from './types';
import {
  validateVariables,
  variablesFromRows,
  checkContamination,
  checkMaxFeatures,
  checkMaxSamples,
  checkPromQLBrackets,
  parseDuration,
  validateQuery,
  validateUrl,
} from './validation';

const valid = { ...DEFAULT_QUERY, refId: 'A', features: [{ name: 'pm25', expr: 'purpleair_pm2_5_cf_1' }] };

describe('parseDuration', () => {
  it.each([
    ['0s', 0],
    ['30s', 30e3],
    ['5m', 300e3],
    ['1h30m', 5400e3],
    ['7d', 7 * 86400e3],
    ['1w', 7 * 86400e3],
    ['250ms', 250],
  ])('%s → %d ms', (s, ms) => expect(parseDuration(s)).toBe(ms));

  it.each(['', '7', 'd', '5x', '1m1h', '-5m', '1.5h'])('rejects %p', (s) => expect(parseDuration(s)).toBeUndefined());
});

describe('checkPromQLBrackets', () => {
  it.each(['purpleair_pm2_5_cf_1', 'rate(x[5m])', 'avg by (sensor_index) (x{a="b)", c=~"[("})', 'x # comment with ('])(
    'accepts %p',
    (e) => expect(checkPromQLBrackets(e)).toBeUndefined()
  );

  it.each([
    ['rate(x[5m]', 'unclosed "("'],
    ['x{a="b"', 'unclosed "{"'],
    ['x)', 'unexpected ")" at position 2'],
    ['rate(x[5m)]', 'unexpected ")" at position 10'],
    ['x{a="b}', 'unclosed string (")'],
  ])('%p → %p', (e, msg) => expect(checkPromQLBrackets(e)).toBe(msg));
});

describe('forest parameters', () => {
  it.each(['auto', '256', '1', '0.5', '1.0', '.25', '1e-1', '$ms'])('max samples %p is fine', (s) =>
    expect(checkMaxSamples(s)).toBeUndefined()
  );
  it.each(['0', '0.0', '1.5', '2.0', '1e1', '-3', 'half', '', '.', 'nan', 'inf'])('max samples %p is rejected', (s) =>
    expect(checkMaxSamples(s)).toBeDefined()
  );
  it.each(['auto', '0.01', '0.5', '1e-3'])('contamination %p is fine', (s) =>
    expect(checkContamination(s)).toBeUndefined()
  );
  it.each(['', '2', '0.5', '1', '1.0', '1.', '.25', '1e-1'])('max features %p is fine', (s) =>
    expect(checkMaxFeatures(s)).toBeUndefined()
  );
  it.each(['0', '1.5', '2.0', 'all', 'auto', '-1', '.', 'e1', 'inf'])('max features %p is rejected', (s) =>
    expect(checkMaxFeatures(s)).toBeDefined()
  );
  it.each([
    ['0.7', 'contamination must be in (0, 0.5], got 0.7'],
    ['0', 'contamination must be in (0, 0.5], got 0'],
    ['lots', 'contamination must be "auto" or a fraction in (0, 0.5] (e.g. 0.01)'],
    ['', 'contamination must be "auto" or a fraction in (0, 0.5] (e.g. 0.01)'],
  ])('contamination %p → %p', (s, msg) => expect(checkContamination(s)).toBe(msg));
});

describe('validateQuery', () => {
  it('accepts the default query once it has an expression', () => {
    expect(validateQuery(valid)).toEqual({});
  });

  it.each<[string, object, string, string]>([
    ['no features', { features: [] }, 'features', 'add at least one feature'],
    ['empty name', { features: [{ name: '', expr: 'x' }] }, 'features.0.name', 'name is required'],
    [
      'bad name',
      { features: [{ name: '2pm', expr: 'x' }] },
      'features.0.name',
      'name must start with a letter or _ and use only letters, digits and _',
    ],
    [
      'duplicate name',
      {
        features: [
          { name: 'a', expr: 'x' },
          { name: 'a', expr: 'y' },
        ],
      },
      'features.1.name',
      '"a" is already feature 1',
    ],
    ['empty expr', { features: [{ name: 'a', expr: ' ' }] }, 'features.0.expr', 'PromQL expression is required'],
    ['bad brackets', { features: [{ name: 'a', expr: 'rate(x[5m]' }] }, 'features.0.expr', 'PromQL: unclosed "("'],
    ['no entity', { entity: [] }, 'entity', 'at least one entity label is required (e.g. sensor_index)'],
    ['bad entity', { entity: ['sensor-index'] }, 'entity', '"sensor-index" is not a label name'],
    ['repeated entity', { entity: ['a', 'a'] }, 'entity', 'entity labels must be distinct'],
    ['unknown mode', { mode: 'batch' }, 'mode', 'unknown mode "batch"'],
    ['unknown forest scope', { forest: 'each' }, 'forest', 'unknown forest scope "each"'],
    ['unknown fleetAt', { fleetAt: 'first' }, 'fleetAt', 'unknown fleet output "first"'],
    [
      'bad training range',
      { training: { range: '7x', step: '' } },
      'training.range',
      'training range must be a duration like 30s, 5m, 2h, 7d, or "panel"',
    ],
    [
      'zero training range',
      { training: { range: '0d', step: '' } },
      'training.range',
      'training range must be longer than 0, or "panel"',
    ],
    ['zero step', { training: { range: 'panel', step: '0s' } }, 'training.step', 'step must be longer than 0'],
    ['sub-second step', { training: { range: 'panel', step: '500ms' } }, 'training.step', 'step must be at least 1s'],
    [
      'bad step',
      { training: { range: 'panel', step: 'fast' } },
      'training.step',
      'step must be a duration like 30s, 5m, 2h, 7d',
    ],
    ['fractional trees', { isolationForest: { trees: 2.5 } }, 'isolationForest.trees', 'trees must be a whole number'],
    [
      'too many trees',
      { isolationForest: { trees: 20000 } },
      'isolationForest.trees',
      'trees must be between 1 and 10000',
    ],
    [
      'bad max features',
      { isolationForest: { maxFeatures: '0' } },
      'isolationForest.maxFeatures',
      'max features must be empty (all), a count (2) or a fraction in (0, 1] (0.5)',
    ],
    ['bad k', { imputation: { method: 'knn', k: 0 } }, 'imputation.k', 'k must be between 1 and 100'],
    ['no output', { output: [] }, 'output', 'choose at least one output'],
    ['unknown output', { output: ['probability'] }, 'output', 'unknown output "probability"'],
    ['repeated output', { output: ['score', 'score'] }, 'output', 'an output is listed twice'],
    [
      'newer schema',
      { schemaVersion: 3 },
      'schemaVersion',
      'schemaVersion 3 is newer than this editor understands (2)',
    ],
  ])('%s', (_, patch, key, message) => {
    const errors = validateQuery({ ...valid, ...patch } as never);
    expect(errors[key]).toBe(message);
  });

  it('ignores k when imputation is off and accepts variables in durations and "auto" steps', () => {
    expect(
      validateQuery({
        ...valid,
        imputation: { method: 'none', k: 0 },
        training: { range: '${window}', step: '$__interval' },
      })
    ).toEqual({});
    expect(validateQuery({ ...valid, training: { range: 'panel', step: 'auto' } })).toEqual({});
  });
});

describe('validateUrl', () => {
  it.each([
    ['http://prometheus:9090', undefined],
    ['https://mimir.example/prometheus', undefined],
    ['', 'URL is required'],
    ['prometheus:9090', 'URL must start with http:// or https://'],
    ['not a url', 'URL must be absolute, e.g. http://prometheus:9090'],
    ['http://admin:secret@prom:9090', 'put credentials in the Authentication section, not in the URL'],
  ])('%p → %p', (url, msg) => expect(validateUrl(url)).toBe(msg));
});

describe('variables', () => {
  it.each<[string, Array<[string, string]>, Record<string, string>]>([
    ['none', [], {}],
    ['an empty row is fine', [['', '']], {}],
    ['a value without a name', [['', 'x']], { 'variables.0.name': 'name is required' }],
    [
      'a bad name',
      [['9x', 'a']],
      { 'variables.0.name': 'name must start with a letter or _ and use only letters, digits and _' },
    ],
    [
      'a macro name',
      [['__rate_interval', '5m']],
      { 'variables.0.name': 'names starting with __ are the macros ($__interval, …)' },
    ],
    [
      'a name twice',
      [
        ['site', 'a'],
        ['zone', 'b'],
        [' site ', 'c'],
      ],
      { 'variables.2.name': '"site" is already variable 1' },
    ],
  ])('%s', (_, rows, want) => {
    expect(validateVariables(rows.map(([name, value]) => ({ name, value })))).toEqual(want);
  });

  it('become the query object, first row of a name winning, undefined when empty', () => {
    expect(variablesFromRows([])).toBeUndefined();
    expect(variablesFromRows([{ name: ' ', value: 'x' }])).toBeUndefined();
    expect(
      variablesFromRows([
        { name: 'site', value: 'oakland' },
        { name: 'site', value: 'berkeley' },
        { name: ' zone ', value: '' },
      ])
    ).toEqual({ site: 'oakland', zone: '' });
  });
});

describe('validateQuery with the PurpleAir preset', () => {
  const preset = { refId: 'A', schemaVersion: 2, preset: 'purpleair' as const };
  it('needs no features', () => {
    expect(validateQuery(preset)).toEqual({});
  });
  it.each([
    [
      { purpleair: { selector: '', sensor: '', threshold: 0, correction: 'us_wide', detailLabel: false } },
      'purpleair.threshold',
    ],
    [
      { purpleair: { selector: '', sensor: '', threshold: 0.7, correction: 'lrapa', detailLabel: false } },
      'purpleair.correction',
    ],
    [
      { purpleair: { selector: '{site="x"}', sensor: '', threshold: 0.7, correction: 'us_wide', detailLabel: false } },
      'purpleair.selector',
    ],
    [
      { purpleair: { selector: 'site="x', sensor: '', threshold: 0.7, correction: 'us_wide', detailLabel: false } },
      'purpleair.selector',
    ],
    [
      { purpleair: { selector: '', sensor: '(13', threshold: 0.7, correction: 'us_wide', detailLabel: false } },
      'purpleair.sensor',
    ],
    [
      {
        purpleair: {
          selector: '',
          sensor: '',
          threshold: 0.7,
          correction: 'us_wide',
          kind: 'public',
          detailLabel: false,
        },
      },
      'purpleair.kind',
    ],
    [{ output: ['decision'] }, 'output'],
    [{ output: [] }, 'output'],
    [{ training: { range: 'a week', step: '' } }, 'training.range'],
  ])('names the field of %j', (patch, field) => {
    const errors = validateQuery({ ...preset, ...(patch as object) } as AnomalyQuery);
    expect(Object.keys(errors)).toEqual([field]);
  });
  it('accepts a template variable as the sensors', () => {
    const q = {
      ...preset,
      purpleair: {
        selector: '',
        sensor: '$sensor',
        threshold: 0.7,
        correction: 'us_wide' as const,
        detailLabel: false,
      },
    };
    expect(validateQuery(q)).toEqual({});
  });
  it('refuses preset outputs without the preset', () => {
    expect(validateQuery({ refId: 'A', features: [{ name: 'a', expr: 'x' }], output: ['kind'] })).toEqual({
      output: 'unknown output "kind"',
    });
  });
});
