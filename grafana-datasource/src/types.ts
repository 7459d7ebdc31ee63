import { DataSourceJsonData } from '@grafana/data';
import { DataQuery } from '@grafana/schema';

// The query model and settings mirror the Go backend's pkg/models (query.go, settings.go; summarised in
// pkg/models/QUERY_MODEL.md). The backend is the authority: it decodes exactly these JSON keys and re-validates
// everything, because alert rules reach it without passing through this editor.

/**
 * Query schema this editor writes for new queries (models.CurrentSchemaVersion). A stored query without
 * schemaVersion is version 1, as the backend reads it: version 2 added `preset` and `calibration`, and only the
 * default of `calibration` differs (version 1: raw scores).
 */
export const SCHEMA_VERSION = 2;

/** One named PromQL expression; features are positional: column i of the matrix is features[i]. */
export interface Feature {
  name: string;
  expr: string;
}

export type Mode = 'series' | 'fleet';
/** Series mode: one forest per entity, or one shared by all entities. */
export type ForestScope = 'per_entity' | 'shared';
/** Fleet mode: score only the last step of the panel range, or each step. */
export type FleetAt = 'last' | 'each';
export type ForestOutput = 'score' | 'decision' | 'anomaly';
/** The PurpleAir preset's outputs: score and anomaly, the reason fields, and the EPA-corrected PM2.5. */
export type PresetOutput = 'score' | 'anomaly' | 'kind' | 'reason' | 'detail' | 'since' | 'pm2.5_epa';
export type Output = ForestOutput | PresetOutput;
/** "" = the Isolation Forest over the features; "purpleair" = the PurpleAir QA detector over the stored channels. */
export type Preset = '' | 'purpleair';
/** "tail": 1 − the score's tail probability under the training scores; "none": the paper's raw score. */
export type Calibration = 'tail' | 'none';
export type EPACorrection = 'us_wide' | 'extended';
/** Which verdicts the preset keeps: "sensor" (faults), "air" (unusual air), "" both. */
export type PurpleAirKind = '' | 'sensor' | 'air';

/** The PurpleAir preset's options (pkg/models/query.go, PurpleAir). */
export interface PurpleAirParams {
  /** Label matchers added to every metric, without braces: location_type="outside". "" = every sensor. */
  selector: string;
  /** Series mode: the sensor_index values returned (a regular expression, anchored). "" = all. */
  sensor: string;
  /** Score at which a reading is an anomaly, in (0, 1]. */
  threshold: number;
  correction: EPACorrection;
  /** Keep one kind of verdict; the other reads as none, its score under the threshold. */
  kind?: PurpleAirKind;
  /** Fleet mode, last step: the detail text as a label too (it changes as an episode goes on). */
  detailLabel: boolean;
}
export type ImputeMethod = 'knn' | 'none';

export interface Training {
  /** "panel" (learn from the panel's own range) or a duration such as "7d" (that long before the panel's start). */
  range: string;
  /** Resolution of rows and query_range requests; "" = from the panel's interval and max data points. */
  step: string;
}

export interface IsolationForestParams {
  /** scikit-learn n_estimators, integer 1..10000. */
  trees: number;
  /** "auto", an integer count ("256") or a fraction in (0, 1] ("0.5"). */
  maxSamples: string;
  /** "auto" or a fraction in (0, 0.5] ("0.01"). */
  contamination: string;
  /** "" = all features, a count ("2") or a fraction in (0, 1]. */
  maxFeatures: string;
  /** random_state: same data + same seed → same scores. */
  seed: number;
}

export interface Imputation {
  method: ImputeMethod;
  /** Neighbours for knn, integer 1..100. */
  k: number;
}

export interface AnomalyQuery extends DataQuery {
  schemaVersion?: number;
  preset?: Preset;
  purpleair?: PurpleAirParams;
  calibration?: Calibration;
  mode?: Mode;
  features?: Feature[];
  entity?: string[];
  forest?: ForestScope;
  fleetAt?: FleetAt;
  training?: Training;
  isolationForest?: IsolationForestParams;
  imputation?: Imputation;
  /** One or more of score, decision, anomaly; each becomes a field of the returned frames. */
  output?: Output[];
  /** Also return the feature values used, imputed cells flagged. */
  includeFeatures?: boolean;
  /** Values for $name / ${name} in expressions when no browser resolves them (alert rules). */
  variables?: Record<string, string>;
}

export const DEFAULT_ENTITY = ['sensor_index'];
export const DEFAULT_TRAINING: Training = { range: 'panel', step: '' };
export const DEFAULT_ISOLATION_FOREST: IsolationForestParams = {
  trees: 100,
  maxSamples: 'auto',
  contamination: 'auto',
  maxFeatures: '',
  seed: 42,
};
export const DEFAULT_IMPUTATION: Imputation = { method: 'knn', k: 5 };
export const DEFAULT_PURPLEAIR: PurpleAirParams = {
  selector: '',
  sensor: '',
  threshold: 0.7,
  correction: 'us_wide',
  kind: '',
  detailLabel: false,
};
/** What the preset returns when no output is chosen. */
export const DEFAULT_PRESET_OUTPUT: PresetOutput[] = ['score', 'anomaly', 'kind', 'reason'];

export const DEFAULT_QUERY: Partial<AnomalyQuery> = {
  schemaVersion: SCHEMA_VERSION,
  calibration: 'tail',
  mode: 'series',
  features: [{ name: 'pm25', expr: '' }],
  entity: DEFAULT_ENTITY,
  forest: 'per_entity',
  fleetAt: 'last',
  training: DEFAULT_TRAINING,
  isolationForest: DEFAULT_ISOLATION_FOREST,
  imputation: DEFAULT_IMPUTATION,
  output: ['score'],
  includeFeatures: false,
};

type ModelKeys = Exclude<keyof AnomalyQuery, keyof DataQuery | 'variables'>;

/** The calibration a query without one gets: raw scores for version 1, calibrated from version 2 on. */
export function defaultCalibration(schemaVersion: number): Calibration {
  return schemaVersion >= 2 ? 'tail' : 'none';
}
/** A query with every model field present (defaults filled in), what the editor and the preview work on. */
export type CompleteQuery = AnomalyQuery & Required<Pick<AnomalyQuery, ModelKeys>>;

/** Fills in the defaults of every missing field; never changes a field that is set. */
export function withDefaults(q: AnomalyQuery): CompleteQuery {
  const schemaVersion = q.schemaVersion ?? 1;
  const preset = q.preset ?? '';
  return {
    ...q,
    schemaVersion,
    preset,
    purpleair: { ...DEFAULT_PURPLEAIR, ...q.purpleair },
    calibration: q.calibration ?? defaultCalibration(schemaVersion),
    mode: q.mode ?? 'series',
    features: q.features ?? [{ name: 'pm25', expr: '' }],
    entity: q.entity ?? DEFAULT_ENTITY,
    forest: q.forest ?? 'per_entity',
    fleetAt: q.fleetAt ?? 'last',
    training: { ...DEFAULT_TRAINING, ...q.training },
    isolationForest: { ...DEFAULT_ISOLATION_FOREST, ...q.isolationForest },
    imputation: { ...DEFAULT_IMPUTATION, ...q.imputation },
    output: q.output ?? (preset === 'purpleair' ? DEFAULT_PRESET_OUTPUT : ['score']),
    includeFeatures: q.includeFeatures ?? false,
  };
}

export type AuthType = 'none' | 'basic' | 'bearer';

/**
 * Plain settings of one datasource instance (jsonData). The upstream URL is the top-level `url`; basic auth uses
 * the top-level `basicAuth` / `basicAuthUser`. TLS and custom header keys are the SDK's standard ones.
 */
export interface AnomalyDataSourceOptions extends DataSourceJsonData {
  authType?: AuthType;
  tlsSkipVerify?: boolean;
  tlsAuth?: boolean;
  tlsAuthWithCACert?: boolean;
  serverName?: string;
  /** Timeout of one query as a Prometheus duration, e.g. "60s" (default 60s). */
  queryTimeout?: string;
  /** Most series one feature expression may return (default 30000). */
  maxSeries?: number;
  /** Most points per series per query_range request (default 11000). */
  maxPointsPerSeries?: number;
  /** Most rows a forest is fitted from per query (default 2000000). */
  maxTrainingRows?: number;
  /** Upstream scrape interval, used for $__rate_interval (default 15s). */
  scrapeInterval?: string;
  /** How long a fitted forest is reused (default 15m). */
  cacheTTL?: string;
  /** Memory for cached forests in MiB (default 256). */
  cacheMaxMiB?: number;
  /** Most memory queries and cached forests hold together in MiB, as the backend estimates it (default 1024). */
  memoryBudgetMiB?: number;
  /** Ask the upstream for gzip-compressed answers (slow links; default off). */
  gzip?: boolean;
  /** Custom header names: httpHeaderName1, httpHeaderName2, … (values are secure). */
  [httpHeaderName: `httpHeaderName${number}`]: string | undefined;
}

/** Secrets: written by the browser, stored encrypted, only ever read by the backend. */
export interface AnomalySecureJsonData {
  basicAuthPassword?: string;
  bearerToken?: string;
  tlsCACert?: string;
  tlsClientCert?: string;
  tlsClientKey?: string;
  [httpHeaderValue: `httpHeaderValue${number}`]: string | undefined;
}

/** Backend defaults (pkg/models/settings.go), shown as placeholders. */
export const DEFAULT_SETTINGS = {
  queryTimeout: '60s',
  maxSeries: 30000,
  maxPointsPerSeries: 11000,
  maxTrainingRows: 2_000_000,
  scrapeInterval: '15s',
  cacheTTL: '15m',
  cacheMaxMiB: 256,
  memoryBudgetMiB: 1024,
} as const;

export type IntSettingKey = 'maxSeries' | 'maxPointsPerSeries' | 'maxTrainingRows' | 'cacheMaxMiB' | 'memoryBudgetMiB';
export type DurationSettingKey = 'queryTimeout' | 'scrapeInterval' | 'cacheTTL';
