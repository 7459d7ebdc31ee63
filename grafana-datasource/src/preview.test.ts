import { describeQuery, queryJSON } from './preview';
import { DEFAULT_QUERY } from './types';

describe('describeQuery', () => {
  it('says the preset warms up over at most the last 24 h of the range', () => {
    const lines = describeQuery({
      ...DEFAULT_QUERY,
      refId: 'A',
      preset: 'purpleair',
      training: { ...DEFAULT_QUERY.training!, range: '6d' },
    });
    expect(lines).toContain(
      "warm-up: the 6d before the panel's range, at most its last 24 h (what lies further back changes nothing)"
    );
  });

  it('says which verdicts the preset keeps, and writes purpleair.kind', () => {
    const q = {
      ...DEFAULT_QUERY,
      refId: 'A',
      preset: 'purpleair' as const,
      purpleair: {
        selector: '',
        sensor: '',
        threshold: 0.7,
        correction: 'us_wide' as const,
        kind: 'air' as const,
        detailLabel: false,
      },
    };
    expect(describeQuery(q)).toContain('verdicts: unusual air only (sensor faults read as none)');
    expect(JSON.parse(queryJSON(q)).purpleair.kind).toBe('air');
  });

  it('says what a series query will run', () => {
    const lines = describeQuery({
      ...DEFAULT_QUERY,
      refId: 'A',
      features: [
        { name: 'pm25', expr: 'purpleair_pm2_5_cf_1' },
        { name: 'rh', expr: 'purpleair_humidity' },
      ],
    });
    expect(lines).toEqual([
      'pm25 = query_range(purpleair_pm2_5_cf_1, step the panel interval)',
      'rh = query_range(purpleair_humidity, step the panel interval)',
      'series: each sensor_index against its own history, one forest per sensor_index',
      "training: the panel's time range",
      'isolation forest: 100 trees, max_samples auto, contamination auto, seed 42',
      'missing values: KNN imputation, k = 5',
      'output: calibrated score (1 − the share of training scores this high; 0.99999 = 1 in 100,000)',
    ]);
  });

  it('says what a fleet query will run', () => {
    const lines = describeQuery({
      refId: 'A',
      features: [{ name: 'pm25', expr: 'x' }],
      mode: 'fleet',
      fleetAt: 'last',
      training: { range: '7d', step: '2m' },
      isolationForest: { trees: 50, maxSamples: '0.5', contamination: '0.01', maxFeatures: '2', seed: 7 },
      imputation: { method: 'none', k: 5 },
      output: ['anomaly', 'decision'],
      includeFeatures: true,
    });
    expect(lines).toEqual([
      'pm25 = query_range(x, step 2m)',
      'fleet: every sensor_index compared with all others at the last step only',
      // A version-1 fleet query has raw scores: the backend reads no training range for it.
      "training: each step's fleet alone (no training range)",
      'isolation forest: 50 trees, max_samples 0.5, contamination 0.01, max_features 2, seed 7',
      'missing values: incomplete points dropped',
      'output: anomaly flag (1 = anomaly, 0 = normal); decision value (below 0 = anomaly); the feature values used (imputed cells flagged)',
    ]);
  });
});

describe('queryJSON', () => {
  it('writes the documented model with defaults and without Grafana fields', () => {
    const parsed = JSON.parse(queryJSON({ refId: 'B', hide: false, features: [{ name: 'a', expr: 'x' }] }));
    expect(parsed).toEqual({
      schemaVersion: 1,
      calibration: 'none',
      mode: 'series',
      features: [{ name: 'a', expr: 'x' }],
      entity: ['sensor_index'],
      forest: 'per_entity',
      fleetAt: 'last',
      training: { range: 'panel', step: '' },
      isolationForest: { trees: 100, maxSamples: 'auto', contamination: 'auto', maxFeatures: '', seed: 42 },
      imputation: { method: 'knn', k: 5 },
      output: ['score'],
      includeFeatures: false,
    });
  });
});
