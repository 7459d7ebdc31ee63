import { AnomalyQuery, withDefaults } from './types';

// The editor's "what will run" preview: a few plain lines a person can check at a glance, plus the exact JSON the
// backend receives. Kept apart from the component so its wording is tested directly.

export const OUTPUT_TEXT: Record<string, string> = {
  score: 'anomaly score (0..1, higher = more anomalous)',
  decision: 'decision value (below 0 = anomaly)',
  anomaly: 'anomaly flag (1 = anomaly, 0 = normal)',
};

export function describeQuery(query: AnomalyQuery): string[] {
  const q = withDefaults(query);
  const lines: string[] = [];
  const stepText = q.training.step.trim();
  const step = stepText === '' || stepText === 'auto' ? 'the panel interval' : stepText;
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
  lines.push(
    range === 'panel' || range === ''
      ? "training: the panel's time range"
      : `training: the ${range} before the panel's range`
  );
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
  const outputs = q.output.map((o) => OUTPUT_TEXT[o] ?? o);
  if (q.includeFeatures) {
    outputs.push('the feature values used (imputed cells flagged)');
  }
  lines.push(`output: ${outputs.join('; ') || 'nothing'}`);
  return lines;
}

/** The query fields the backend reads, in its documented order (no Grafana bookkeeping fields). */
export function queryJSON(query: AnomalyQuery): string {
  const q = withDefaults(query);
  const body = {
    schemaVersion: q.schemaVersion,
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
