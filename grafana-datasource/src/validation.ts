import { AnomalyQuery, CompleteQuery, Output, SCHEMA_VERSION, withDefaults } from './types';

// Checks the editor runs before a query reaches the backend. The backend repeats every one of them (alert rules
// never pass through the browser); these exist so a person sees the problem next to the field they typed it in.

/** Field path → message, e.g. {"features.0.name": "name must start with a letter or _"}. */
export type ValidationErrors = Record<string, string>;

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
// Prometheus duration syntax (model.ParseDuration): units in descending order, each at most once.
const DURATION = /^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$/;
// $var, ${var}, ${var:format}, [[var]] — resolved later (frontend for dashboards, backend for alerting).
const TEMPLATE_VARIABLE = /^(?:\$[A-Za-z_]\w*|\$\{[A-Za-z_]\w*(?::[^}]*)?\}|\[\[[A-Za-z_]\w*\]\])$/;

// The backend's limits (pkg/models/query.go).
export const MAX_FEATURES = 32;
export const MAX_TREES = 10000;
export const MAX_KNN_NEIGHBOURS = 100;
const OUTPUTS: Output[] = ['score', 'decision', 'anomaly'];
export const PRESET_OUTPUTS: Output[] = ['score', 'anomaly', 'kind', 'reason', 'detail', 'since', 'pm2.5_epa'];

export function isTemplateVariable(s: string): boolean {
  return TEMPLATE_VARIABLE.test(s.trim());
}

/** Milliseconds of a Prometheus duration, or undefined when s is not one. "0s" → 0. */
export function parseDuration(s: string): number | undefined {
  const t = s.trim();
  if (t === '') {
    return undefined;
  }
  const m = DURATION.exec(t);
  if (!m) {
    return undefined;
  }
  const unitMs = [365 * 86400e3, 7 * 86400e3, 86400e3, 3600e3, 60e3, 1e3, 1];
  let total = 0;
  for (let i = 0; i < unitMs.length; i++) {
    if (m[i + 1] !== undefined) {
      total += Number(m[i + 1]) * unitMs[i];
    }
  }
  return total;
}

/**
 * Structural PromQL check: balanced (), [] and {} outside string literals, closed quotes. It does not parse
 * PromQL (the upstream does and its message is shown); it catches the typos people make while typing.
 */
export function checkPromQLBrackets(expr: string): string | undefined {
  const closers: Record<string, string> = { ')': '(', ']': '[', '}': '{' };
  const stack: string[] = [];
  let quote: string | undefined;
  for (let i = 0; i < expr.length; i++) {
    const c = expr[i];
    if (quote) {
      if (c === '\\' && quote !== '`') {
        i++;
      } else if (c === quote) {
        quote = undefined;
      }
      continue;
    }
    if (c === '"' || c === "'" || c === '`') {
      quote = c;
    } else if (c === '#') {
      // comment to end of line
      const nl = expr.indexOf('\n', i);
      i = nl < 0 ? expr.length : nl;
    } else if (c === '(' || c === '[' || c === '{') {
      stack.push(c);
    } else if (c in closers) {
      if (stack.pop() !== closers[c]) {
        return `unexpected "${c}" at position ${i + 1}`;
      }
    }
  }
  if (quote) {
    return `unclosed string (${quote})`;
  }
  if (stack.length > 0) {
    return `unclosed "${stack[stack.length - 1]}"`;
  }
  return undefined;
}

function checkInteger(v: unknown, min: number, max: number, what: string): string | undefined {
  if (typeof v !== 'number' || !Number.isInteger(v)) {
    return `${what} must be a whole number`;
  }
  if (v < min || v > max) {
    return `${what} must be between ${min} and ${max}`;
  }
  return undefined;
}

/**
 * How anomaly.ParseMaxSamples and ParseMaxFeatures read a number, as scikit-learn tells int from float:
 * a whole number is a count, one written with a decimal point or an exponent a fraction.
 */
function countOrFraction(t: string): 'count' | 'fraction' | 'bad' {
  if (/^\+?\d+$/.test(t)) {
    return Number(t) >= 1 ? 'count' : 'bad';
  }
  const n = Number(t);
  if (/^[+]?[0-9]*\.?[0-9]*(?:[eE][+-]?\d+)?$/.test(t) && /[.eE]/.test(t) && n > 0 && n <= 1) {
    return 'fraction';
  }
  return 'bad';
}

/** "auto", a count ≥ 1 or a fraction in (0, 1] — the forms anomaly.ParseMaxSamples accepts. */
export function checkMaxSamples(s: string): string | undefined {
  const t = s.trim();
  if (t === 'auto' || isTemplateVariable(t) || countOrFraction(t) !== 'bad') {
    return undefined;
  }
  return 'max samples must be "auto", a count (256) or a fraction in (0, 1] (0.5)';
}

/** "auto" or a fraction in (0, 0.5] — the forms anomaly.ParseContamination accepts. */
export function checkContamination(s: string): string | undefined {
  const t = s.trim();
  if (t === 'auto' || isTemplateVariable(t)) {
    return undefined;
  }
  const n = Number(t);
  if (t === '' || !Number.isFinite(n) || !/^[0-9.eE+-]+$/.test(t)) {
    return 'contamination must be "auto" or a fraction in (0, 0.5] (e.g. 0.01)';
  }
  if (n <= 0 || n > 0.5) {
    return `contamination must be in (0, 0.5], got ${t}`;
  }
  return undefined;
}

/** "" (all features), a count ≥ 1 or a fraction in (0, 1] — empty, or what anomaly.ParseMaxFeatures accepts. */
export function checkMaxFeatures(s: string): string | undefined {
  const t = s.trim();
  if (t === '' || isTemplateVariable(t) || countOrFraction(t) !== 'bad') {
    return undefined;
  }
  return 'max features must be empty (all), a count (2) or a fraction in (0, 1] (0.5)';
}

/** A duration field: empty (when allowed), a template variable, or a Prometheus duration of at least minMs. */
function checkDurationField(s: string, what: string, allowEmpty: boolean, minMs: number): string | undefined {
  const t = s.trim();
  if (t === '') {
    return allowEmpty ? undefined : `${what} is required`;
  }
  if (isTemplateVariable(t)) {
    return undefined;
  }
  const ms = parseDuration(t);
  if (ms === undefined) {
    return `${what} must be a duration like 30s, 5m, 2h, 7d`;
  }
  if (ms === 0) {
    return `${what} must be longer than 0`;
  }
  if (ms < minMs) {
    return `${what} must be at least ${minMs / 1000}s`;
  }
  return undefined;
}

/** All problems of a query, keyed by field path; empty when the query may be sent. */
export function validateQuery(query: AnomalyQuery): ValidationErrors {
  const q = withDefaults(query);
  const errors: ValidationErrors = {};

  if ((q.schemaVersion ?? SCHEMA_VERSION) > SCHEMA_VERSION) {
    errors['schemaVersion'] =
      `schemaVersion ${q.schemaVersion} is newer than this editor understands (${SCHEMA_VERSION})`;
  }

  if (q.preset !== '' && q.preset !== 'purpleair') {
    errors['preset'] = `unknown preset "${q.preset}"`;
    return errors;
  }
  if (q.preset === 'purpleair') {
    validateModeAndTraining(q, errors);
    validatePurpleAir(q, errors);
    return errors;
  }
  if (q.calibration !== 'tail' && q.calibration !== 'none') {
    errors['calibration'] = `unknown calibration "${q.calibration}"`;
  }

  if (q.features.length === 0) {
    errors['features'] = 'add at least one feature';
  } else if (q.features.length > MAX_FEATURES) {
    errors['features'] = `at most ${MAX_FEATURES} features`;
  }
  const seen = new Map<string, number>();
  q.features.forEach((f, i) => {
    const name = (f.name ?? '').trim();
    if (name === '') {
      errors[`features.${i}.name`] = 'name is required';
    } else if (!NAME.test(name)) {
      errors[`features.${i}.name`] = 'name must start with a letter or _ and use only letters, digits and _';
    } else if (seen.has(name)) {
      errors[`features.${i}.name`] = `"${name}" is already feature ${seen.get(name)! + 1}`;
    } else {
      seen.set(name, i);
    }
    const expr = (f.expr ?? '').trim();
    if (expr === '') {
      errors[`features.${i}.expr`] = 'PromQL expression is required';
    } else {
      const bracket = checkPromQLBrackets(expr);
      if (bracket) {
        errors[`features.${i}.expr`] = `PromQL: ${bracket}`;
      }
    }
  });

  if (q.entity.length === 0) {
    errors['entity'] = 'at least one entity label is required (e.g. sensor_index)';
  } else {
    const bad = q.entity.find((l) => !NAME.test(l) && !isTemplateVariable(l));
    if (bad !== undefined) {
      errors['entity'] = `"${bad}" is not a label name`;
    } else if (new Set(q.entity).size !== q.entity.length) {
      errors['entity'] = 'entity labels must be distinct';
    }
  }

  if (q.forest !== 'per_entity' && q.forest !== 'shared') {
    errors['forest'] = `unknown forest scope "${q.forest}"`;
  }
  validateModeAndTraining(q, errors);

  const forest = q.isolationForest;
  const trees = checkInteger(forest.trees, 1, MAX_TREES, 'trees');
  if (trees) {
    errors['isolationForest.trees'] = trees;
  }
  const maxSamples = checkMaxSamples(String(forest.maxSamples));
  if (maxSamples) {
    errors['isolationForest.maxSamples'] = maxSamples;
  }
  const contamination = checkContamination(String(forest.contamination));
  if (contamination) {
    errors['isolationForest.contamination'] = contamination;
  }
  const maxFeatures = checkMaxFeatures(String(forest.maxFeatures ?? ''));
  if (maxFeatures) {
    errors['isolationForest.maxFeatures'] = maxFeatures;
  }
  const seed = checkInteger(forest.seed, Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER, 'seed');
  if (seed) {
    errors['isolationForest.seed'] = seed;
  }

  if (q.imputation.method !== 'knn' && q.imputation.method !== 'none') {
    errors['imputation.method'] = `unknown imputation "${q.imputation.method}"`;
  } else if (q.imputation.method === 'knn') {
    const k = checkInteger(q.imputation.k, 1, MAX_KNN_NEIGHBOURS, 'k');
    if (k) {
      errors['imputation.k'] = k;
    }
  }

  const output = checkOutputs(q.output, OUTPUTS);
  if (output) {
    errors['output'] = output;
  }
  return errors;
}

/** What is wrong with an output list (empty, an output not in allowed, one listed twice); undefined = nothing. */
function checkOutputs(
  output: readonly Output[],
  allowed: readonly Output[],
  unknownMessage = (o: string) => `unknown output "${o}"`
): string | undefined {
  if (output.length === 0) {
    return 'choose at least one output';
  }
  const unknown = output.find((o) => !allowed.includes(o));
  if (unknown !== undefined) {
    return unknownMessage(unknown);
  }
  if (new Set(output).size !== output.length) {
    return 'an output is listed twice';
  }
  return undefined;
}

function validateModeAndTraining(q: CompleteQuery, errors: ValidationErrors) {
  if (q.mode !== 'series' && q.mode !== 'fleet') {
    errors['mode'] = `unknown mode "${q.mode}"`;
  }
  if (q.fleetAt !== 'last' && q.fleetAt !== 'each') {
    errors['fleetAt'] = `unknown fleet output "${q.fleetAt}"`;
  }
  const range = q.training.range.trim();
  if (range !== 'panel' && range !== '') {
    const e = checkDurationField(range, 'training range', false, 0);
    if (e) {
      errors['training.range'] = `${e}, or "panel"`;
    }
  }
  const step = q.training.step.trim();
  if (step !== 'auto') {
    const stepError = checkDurationField(step, 'step', true, 1000);
    if (stepError) {
      errors['training.step'] = stepError;
    }
  }
}

function validatePurpleAir(q: CompleteQuery, errors: ValidationErrors) {
  const p = q.purpleair;
  if (typeof p.threshold !== 'number' || !(p.threshold > 0 && p.threshold <= 1)) {
    errors['purpleair.threshold'] = 'threshold must be above 0 and at most 1';
  }
  if (p.correction !== 'us_wide' && p.correction !== 'extended') {
    errors['purpleair.correction'] = `unknown EPA correction "${p.correction}"`;
  }
  if (p.kind !== undefined && p.kind !== '' && p.kind !== 'sensor' && p.kind !== 'air') {
    errors['purpleair.kind'] = `unknown kind "${p.kind}" (want sensor, air, or empty for both)`;
  }
  if (/[{}]/.test(p.selector)) {
    errors['purpleair.selector'] = 'label matchers without braces, e.g. location_type="outside"';
  } else if (p.selector.trim() !== '') {
    const bracket = checkPromQLBrackets(`{${p.selector}}`);
    if (bracket) {
      errors['purpleair.selector'] = `selector: ${bracket}`;
    }
  }
  if (p.sensor.trim() !== '' && !p.sensor.includes('$')) {
    try {
      new RegExp(`^(?:${p.sensor})$`);
    } catch {
      errors['purpleair.sensor'] = 'not a regular expression';
    }
  }
  const output = checkOutputs(q.output, PRESET_OUTPUTS, (o) =>
    o === 'decision' ? "decision is the Isolation Forest's output, not the preset's" : `unknown output "${o}"`
  );
  if (output) {
    errors['output'] = output;
  }
}

/** True when at least one feature has an expression, i.e. the user has started writing a query. */
export function hasExpression(query: AnomalyQuery): boolean {
  return (query.features ?? []).some((f) => (f.expr ?? '').trim() !== '');
}

/** Config editor checks: URL and limits. Keys are the settings' names. */
export function validateUrl(url: string | undefined): string | undefined {
  const u = (url ?? '').trim();
  if (u === '') {
    return 'URL is required';
  }
  let parsed: URL;
  try {
    parsed = new URL(u);
  } catch {
    return 'URL must be absolute, e.g. http://prometheus:9090';
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    return 'URL must start with http:// or https://';
  }
  if (parsed.username || parsed.password) {
    return 'put credentials in the Authentication section, not in the URL';
  }
  return undefined;
}

/** A settings duration ("60s"): empty = the default; otherwise a Prometheus duration > 0. */
export function validateSettingDuration(v: string | undefined, what: string): string | undefined {
  const t = (v ?? '').trim();
  if (t === '') {
    return undefined;
  }
  const ms = parseDuration(t);
  if (ms === undefined || ms === 0) {
    return `${what} must be a duration like 30s, 5m or 1h`;
  }
  return undefined;
}

export function validatePositiveInt(v: number | undefined, max: number, what: string): string | undefined {
  if (v === undefined) {
    return undefined;
  }
  return checkInteger(v, 1, max, what);
}

/** One row of the editor's variables table: a name and the value it stands for. */
export interface VariableRow {
  name: string;
  value: string;
}

/**
 * Problems in the variables table, keyed `variables.<row>.name` — the backend's rule (letters, digits and _, not
 * starting with __, which is for macros), plus what only rows can have: a value without a name, a name twice.
 */
export function validateVariables(rows: VariableRow[]): ValidationErrors {
  const errors: ValidationErrors = {};
  const seen = new Map<string, number>();
  rows.forEach(({ name, value }, i) => {
    const key = `variables.${i}.name`;
    const n = name.trim();
    if (n === '') {
      if (value.trim() !== '') {
        errors[key] = 'name is required';
      }
      return;
    }
    if (!NAME.test(n)) {
      errors[key] = 'name must start with a letter or _ and use only letters, digits and _';
    } else if (n.startsWith('__')) {
      errors[key] = 'names starting with __ are the macros ($__interval, …)';
    } else if (seen.has(n)) {
      errors[key] = `"${n}" is already variable ${seen.get(n)! + 1}`;
    }
    if (!seen.has(n)) {
      seen.set(n, i);
    }
  });
  return errors;
}

/** The rows as the query's `variables` object, or undefined when no row has a name. */
export function variablesFromRows(rows: VariableRow[]): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  for (const { name, value } of rows) {
    const n = name.trim();
    if (n !== '' && !(n in out)) {
      out[n] = value;
    }
  }
  return Object.keys(out).length > 0 ? out : undefined;
}
