import { AnomalyQuery, withDefaults } from './types';

// The editor's "what will run" preview: a few plain lines a person can check at a glance, plus the exact JSON the
// backend receives. Kept apart from the component so its wording is tested directly.

export const OUTPUT_TEXT: Record<string, string> = {
  score: 'anomaly score (0..1, higher = more anomalous)',
  decision: 'decision value (below 0 = anomaly)',
  anomaly: 'anomaly flag (1 = anomaly, 0 = normal)',
};

export const PRESET_OUTPUT_TEXT: Record<string, string> = {
  score: 'score (0..1; at or above the threshold = anomaly)',
  anomaly: 'anomaly flag (1 = anomaly, 0 = normal)',
  kind: 'kind (sensor = send someone, air = tell the public)',
  reason: 'reason (one word)',
  detail: 'detail (a sentence)',
  since: 'since (when the episode began)',
  'pm2.5_epa': 'EPA-corrected PM2.5',
};

/** Whether the backend reads training.range for this query (fleet mode without calibration fits each step alone). */
export function usesTrainingRange(query: AnomalyQuery): boolean {
  const q = withDefaults(query);
  return q.preset === 'purpleair' || q.mode === 'series' || q.calibration === 'tail';
}

function describePreset(q: ReturnType<typeof withDefaults>, step: string): string[] {
  const p = q.purpleair;
  const sel = p.selector.trim() === '' ? '' : `{${p.selector.trim()}}`;
  const lines = [
    `preset PurpleAir: channels A and B, pm2.5_cf_1, pm2.5_atm, humidity, temperature, pressure, last_seen${sel ? ` ${sel}` : ''}, step ${step}`,
    `detector: one over the whole fleet (neighbours tell sensor from air), threshold ${p.threshold}, EPA correction ${p.correction}`,
  ];
  if (p.kind === 'sensor') {
    lines.push('verdicts: sensor faults only (unusual air reads as none)');
  } else if (p.kind === 'air') {
    lines.push('verdicts: unusual air only (sensor faults read as none)');
  }
  if (q.mode === 'fleet') {
    lines.push(
      q.fleetAt === 'each'
        ? 'fleet: every sensor, at every step'
        : 'fleet: every sensor at the last step, reasons as labels (alert rules)'
    );
  } else {
    lines.push(
      p.sensor.trim() === ''
        ? 'series: every sensor over the range'
        : `series: sensor_index =~ ${p.sensor.trim()} over the range`
    );
  }
  const range = q.training.range.trim();
  lines.push(
    range === 'panel' || range === ''
      ? "warm-up: none before the panel's range (the detector learns as it goes)"
      : `warm-up: the ${range} before the panel's range, at most its last 24 h (what lies further back changes nothing)`
  );
  lines.push(`output: ${q.output.map((o) => PRESET_OUTPUT_TEXT[o] ?? o).join('; ') || 'nothing'}`);
  return lines;
}

export function describeQuery(query: AnomalyQuery): string[] {
  const q = withDefaults(query);
  const lines: string[] = [];
  const stepText = q.training.step.trim();
  const step = stepText === '' || stepText === 'auto' ? 'the panel interval' : stepText;
  if (q.preset === 'purpleair') {
    return describePreset(q, step);
  }
  for (const f of q.features) {
    lines.push(`${f.name || '?'} = query_range(${f.expr.trim() || '…'}, step ${step})`);
  }
  const entity = q.entity.join(', ') || '…';
  if (q.mode === 'fleet') {
    const when = q.fleetAt === 'each' ? 'at every step' : 'at the last step only';
    lines.push(`fleet: every ${entity} compared with all others ${when}`);
  } else {
    const forests = q.forest === 'shared' ? `one forest shared by all ${entity}` : `one forest per ${entity}`;
    lines.push(`series: each ${entity} against its own history, ${forests}`);
  }
  const range = q.training.range.trim();
  if (!usesTrainingRange(q)) {
    lines.push("training: each step's fleet alone (no training range)");
  } else if (q.mode === 'fleet') {
    lines.push(
      range === 'panel' || range === ''
        ? "calibration: the fleet's scores over the panel's range"
        : `calibration: the fleet's scores over the ${range} before the panel's range`
    );
  } else {
    lines.push(
      range === 'panel' || range === ''
        ? "training: the panel's time range"
        : `training: the ${range} before the panel's range`
    );
  }
  const f = q.isolationForest;
  const features = f.maxFeatures.trim() === '' ? '' : `, max_features ${f.maxFeatures.trim()}`;
  lines.push(
    `isolation forest: ${f.trees} trees, max_samples ${f.maxSamples}, contamination ${f.contamination}${features}, seed ${f.seed}`
  );
  lines.push(
    q.imputation.method === 'knn'
      ? `missing values: KNN imputation, k = ${q.imputation.k}`
      : 'missing values: incomplete points dropped'
  );
  const outputs = q.output.map((o) =>
    o === 'score' && q.calibration === 'tail'
      ? 'calibrated score (1 − the share of training scores this high; 0.99999 = 1 in 100,000)'
      : (OUTPUT_TEXT[o] ?? o)
  );
  if (q.includeFeatures) {
    outputs.push('the feature values used (imputed cells flagged)');
  }
  lines.push(`output: ${outputs.join('; ') || 'nothing'}`);
  return lines;
}

/** The query fields the backend reads, in its documented order (no Grafana bookkeeping fields). */
export function queryJSON(query: AnomalyQuery): string {
  const q = withDefaults(query);
  if (q.preset === 'purpleair') {
    return JSON.stringify(
      {
        schemaVersion: q.schemaVersion,
        preset: q.preset,
        purpleair: q.purpleair,
        mode: q.mode,
        fleetAt: q.fleetAt,
        training: q.training,
        output: q.output,
        ...(q.variables && Object.keys(q.variables).length > 0 ? { variables: q.variables } : {}),
      },
      null,
      2
    );
  }
  const body = {
    schemaVersion: q.schemaVersion,
    calibration: q.calibration,
    mode: q.mode,
    features: q.features,
    entity: q.entity,
    forest: q.forest,
    fleetAt: q.fleetAt,
    training: q.training,
    isolationForest: q.isolationForest,
    imputation: q.imputation,
    output: q.output,
    includeFeatures: q.includeFeatures,
    ...(q.variables && Object.keys(q.variables).length > 0 ? { variables: q.variables } : {}),
  };
  return JSON.stringify(body, null, 2);
}
