import { CoreApp, DataSourceInstanceSettings, ScopedVars } from '@grafana/data';
import { DataSourceWithBackend, getTemplateSrv, TemplateSrv } from '@grafana/runtime';

import { AnomalyDataSourceOptions, AnomalyQuery, DEFAULT_QUERY } from './types';
import { hasExpression, validateQuery } from './validation';

// Multi-value variables inside a PromQL label matcher are used as regex alternatives (like Grafana's Prometheus
// datasource does): each value is regex-escaped and they are joined with "|".
function escapeRegex(value: string): string {
  return value.replace(/[\\^$*+?.()|[\]{}]/g, '\\$&');
}

interface VariableLike {
  multi?: boolean;
  includeAll?: boolean;
}

export function formatPromQLVariable(value: string | string[], variable?: VariableLike): string {
  if (!variable?.multi && !variable?.includeAll) {
    return Array.isArray(value) ? value.join('|') : value;
  }
  if (typeof value === 'string') {
    return escapeRegex(value);
  }
  const escaped = value.map(escapeRegex);
  return escaped.length === 1 ? escaped[0] : `(${escaped.join('|')})`;
}

// Macros the backend resolves itself from the step it actually uses (which may differ from the panel's interval
// Grafana puts in scopedVars), so they are left in the expressions as written.
const BACKEND_MACROS = ['__interval', '__interval_ms', '__rate_interval', '__range', '__range_s', '__range_ms'];

function withoutBackendMacros(scopedVars: ScopedVars): ScopedVars {
  const out: ScopedVars = { ...scopedVars };
  for (const m of BACKEND_MACROS) {
    delete out[m];
  }
  return out;
}

export class DataSource extends DataSourceWithBackend<AnomalyQuery, AnomalyDataSourceOptions> {
  constructor(
    instanceSettings: DataSourceInstanceSettings<AnomalyDataSourceOptions>,
    private readonly templateSrv: TemplateSrv = getTemplateSrv()
  ) {
    super(instanceSettings);
  }

  getDefaultQuery(_: CoreApp): Partial<AnomalyQuery> {
    return DEFAULT_QUERY;
  }

  /**
   * Resolves dashboard variables in every string of the query that may hold one. In expressions the step macros
   * ($__interval, $__rate_interval, $__range…) stay as written: the backend resolves them from the step it uses,
   * as it must for alert rules anyway.
   */
  applyTemplateVariables(query: AnomalyQuery, scopedVars: ScopedVars): AnomalyQuery {
    const replace = (s: string | undefined) => (s === undefined ? undefined : this.templateSrv.replace(s, scopedVars));
    const entity = query.entity?.flatMap((label) =>
      // A multi-value variable may name several entity labels: "$labels" → "a,b" → ["a", "b"].
      this.templateSrv
        .replace(label, scopedVars, 'csv')
        .split(',')
        .map((l) => l.trim())
        .filter((l) => l !== '')
    );
    return {
      ...query,
      features: query.features?.map((f) => ({
        ...f,
        expr: this.templateSrv.replace(f.expr, withoutBackendMacros(scopedVars), formatPromQLVariable),
      })),
      entity,
      training: query.training && {
        range: replace(query.training.range) ?? 'panel',
        step: replace(query.training.step) ?? '',
      },
      purpleair: query.purpleair && {
        ...query.purpleair,
        selector: this.templateSrv.replace(query.purpleair.selector ?? '', scopedVars, formatPromQLVariable),
        // A multi-value $sensor becomes an alternation, which is what the backend's anchored regexp wants.
        sensor: this.templateSrv.replace(query.purpleair.sensor ?? '', scopedVars, formatPromQLVariable),
      },
      isolationForest: query.isolationForest && {
        ...query.isolationForest,
        maxSamples: replace(String(query.isolationForest.maxSamples ?? 'auto')) ?? 'auto',
        contamination: replace(String(query.isolationForest.contamination ?? 'auto')) ?? 'auto',
        maxFeatures: replace(String(query.isolationForest.maxFeatures ?? '')) ?? '',
      },
    };
  }

  /** Hidden queries, queries with no expression yet and queries the editor marks invalid are not sent. */
  filterQuery(query: AnomalyQuery): boolean {
    if (query.hide) {
      return false;
    }
    // The preset reads fixed metrics: it has no expression to wait for.
    if (query.preset !== 'purpleair' && !hasExpression(query)) {
      return false;
    }
    return Object.keys(validateQuery(query)).length === 0;
  }

  /**
   * Metric names containing `typed` (any case), for the editor's autocomplete: the backend's `metrics` resource
   * filters by `match` as a case-insensitive substring and answers at most 1000 names.
   */
  async getMetricNames(typed: string): Promise<string[]> {
    const t = typed.trim();
    const params = t ? { match: t } : undefined;
    const names = await this.getResource<string[]>('metrics', params);
    return Array.isArray(names) ? names : [];
  }

  async getLabelNames(): Promise<string[]> {
    const names = await this.getResource<string[]>('labels');
    return Array.isArray(names) ? names : [];
  }

  async getLabelValues(label: string): Promise<string[]> {
    const values = await this.getResource<string[]>('label-values', { label });
    return Array.isArray(values) ? values : [];
  }
}
