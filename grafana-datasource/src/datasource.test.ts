import { DataSourceInstanceSettings, ScopedVars } from '@grafana/data';
import { TemplateSrv } from '@grafana/runtime';

import { DataSource, formatPromQLVariable } from './datasource';
import { AnomalyDataSourceOptions, AnomalyQuery, DEFAULT_QUERY } from './types';

// A TemplateSrv with Grafana's replace contract for the cases the datasource uses: $name / ${name}, scoped vars
// first, a format that is a function (called with the value and the variable) or 'csv'; unknown names stay.
interface Var {
  name: string;
  value: string | string[];
  multi?: boolean;
  includeAll?: boolean;
}
function templateSrv(vars: Var[]): TemplateSrv {
  const replace = (target?: string, scopedVars?: ScopedVars, format?: string | Function): string =>
    (target ?? '').replace(/\$\{(\w+)\}|\$(\w+)/g, (whole, braced, plain) => {
      const name = braced ?? plain;
      const scoped = scopedVars?.[name];
      const v = scoped ? { name, value: String(scoped.value) } : vars.find((x) => x.name === name);
      if (!v) {
        return whole;
      }
      if (typeof format === 'function') {
        return format(v.value, v);
      }
      return Array.isArray(v.value) ? v.value.join(',') : v.value;
    });
  return {
    replace,
    getVariables: () => [],
    containsTemplate: (t?: string) => /\$/.test(t ?? ''),
    updateTimeRange: () => {},
  } as unknown as TemplateSrv;
}

const settings = {
  id: 1,
  uid: 'hz',
  type: 'hazewatch-anomaly-datasource',
  name: 'Hazewatch',
  meta: { id: 'hazewatch-anomaly-datasource' },
  jsonData: {},
  access: 'proxy',
  readOnly: false,
} as unknown as DataSourceInstanceSettings<AnomalyDataSourceOptions>;

const base: AnomalyQuery = { ...DEFAULT_QUERY, refId: 'A', features: [{ name: 'pm25', expr: 'purpleair_pm2_5_cf_1' }] };

describe('DataSource.filterQuery', () => {
  const ds = new DataSource(settings, templateSrv([]));
  it.each<[string, AnomalyQuery, boolean]>([
    ['a valid query is sent', base, true],
    ['a hidden query is dropped', { ...base, hide: true }, false],
    ['a query with no expression yet is dropped', { ...base, features: [{ name: 'pm25', expr: '  ' }] }, false],
    ['a query without features is dropped', { refId: 'A' }, false],
    [
      'a PurpleAir preset query has no features and is sent',
      { refId: 'A', schemaVersion: 2, preset: 'purpleair' },
      true,
    ],
    [
      'an invalid PurpleAir preset query is dropped',
      { refId: 'A', schemaVersion: 2, preset: 'purpleair', output: ['decision'] },
      false,
    ],
    [
      'an invalid query is dropped',
      { ...base, isolationForest: { trees: 0, maxSamples: 'auto', contamination: 'auto', maxFeatures: '', seed: 1 } },
      false,
    ],
  ])('%s', (_, q, sent) => expect(ds.filterQuery(q)).toBe(sent));
});

describe('DataSource.applyTemplateVariables', () => {
  const ds = new DataSource(
    settings,
    templateSrv([
      { name: 'sensor', value: ['131075', '2.5'], multi: true },
      { name: 'one', value: 'a.b' },
      { name: 'window', value: '7d' },
      { name: 'labels', value: ['sensor_index', 'site'], multi: true },
      { name: 'frac', value: '0.02' },
    ])
  );

  it('resolves variables in expressions, entity, durations and forest strings', () => {
    const q: AnomalyQuery = {
      ...base,
      features: [
        { name: 'pm25', expr: 'purpleair_pm2_5_cf_1{sensor_index=~"$sensor"}' },
        { name: 'rh', expr: 'rate(purpleair_humidity{x="$one"}[$__rate_interval])' },
      ],
      entity: ['$labels'],
      training: { range: '$window', step: '$__interval' },
      isolationForest: { trees: 100, maxSamples: 'auto', contamination: '$frac', maxFeatures: '', seed: 42 },
    };
    const out = ds.applyTemplateVariables(q, {
      __interval: { text: '2m', value: '2m' },
      __rate_interval: { text: '1m', value: '1m' },
    });
    expect(out.features).toEqual([
      { name: 'pm25', expr: 'purpleair_pm2_5_cf_1{sensor_index=~"(131075|2\\.5)"}' },
      // Step macros stay in expressions: the backend resolves them from the step it really uses.
      { name: 'rh', expr: 'rate(purpleair_humidity{x="a.b"}[$__rate_interval])' },
    ]);
    expect(out.entity).toEqual(['sensor_index', 'site']);
    // The step field itself is not an expression: Grafana's interval resolves it.
    expect(out.training).toEqual({ range: '7d', step: '2m' });
    expect(out.isolationForest).toEqual({
      trees: 100,
      maxSamples: 'auto',
      contamination: '0.02',
      maxFeatures: '',
      seed: 42,
    });
    expect(out.refId).toBe('A');
  });

  it('leaves a query without optional fields alone', () => {
    const out = ds.applyTemplateVariables({ refId: 'B' }, {});
    expect(out).toEqual({
      refId: 'B',
      features: undefined,
      entity: undefined,
      training: undefined,
      purpleair: undefined,
      isolationForest: undefined,
    });
  });

  it("resolves the preset's selector and sensors", () => {
    const out = ds.applyTemplateVariables(
      {
        refId: 'A',
        preset: 'purpleair',
        purpleair: {
          selector: 'site="$one"',
          sensor: '$sensor',
          threshold: 0.7,
          correction: 'us_wide',
          detailLabel: false,
        },
      },
      {}
    );
    expect(out.purpleair).toEqual({
      selector: 'site="a.b"',
      sensor: '(131075|2\\.5)',
      threshold: 0.7,
      correction: 'us_wide',
      detailLabel: false,
    });
  });
});

describe('formatPromQLVariable', () => {
  it.each<[string | string[], { multi?: boolean; includeAll?: boolean } | undefined, string]>([
    ['a.b', undefined, 'a.b'],
    ['a.b', { multi: true }, 'a\\.b'],
    [['x'], { multi: true }, 'x'],
    [['x', 'y+'], { includeAll: true }, '(x|y\\+)'],
  ])('%p %p → %p', (value, variable, out) => expect(formatPromQLVariable(value, variable)).toBe(out));
});

describe('DataSource resources', () => {
  it('asks the backend for metric names with the typed prefix', async () => {
    const ds = new DataSource(settings, templateSrv([]));
    const spy = jest.spyOn(ds, 'getResource').mockResolvedValue(['purpleair_humidity']);
    await expect(ds.getMetricNames('purple')).resolves.toEqual(['purpleair_humidity']);
    expect(spy).toHaveBeenCalledWith('metrics', { match: 'purple' });
    await ds.getMetricNames('');
    expect(spy).toHaveBeenLastCalledWith('metrics', undefined);
    await ds.getLabelValues('sensor_index');
    expect(spy).toHaveBeenCalledWith('label-values', { label: 'sensor_index' });
  });
});
