import React, { ChangeEvent, useState } from 'react';
import { css } from '@emotion/css';
import { DataSourcePluginOptionsEditorProps, GrafanaTheme2 } from '@grafana/data';
import {
  Auth,
  AuthMethod,
  ConfigSection,
  ConfigSubSection,
  ConnectionSettings,
  convertLegacyAuthProps,
  DataSourceDescription,
} from '@grafana/plugin-ui';
import { Divider, InlineField, InlineSwitch, SecretInput, Stack, Text, useStyles2 } from '@grafana/ui';

import { DOCS_URL } from '../links';
import {
  AnomalyDataSourceOptions,
  AnomalySecureJsonData,
  AuthType,
  DEFAULT_SETTINGS,
  DurationSettingKey,
  IntSettingKey,
} from '../types';
import { validatePositiveInt, validateSettingDuration, validateUrl } from '../validation';
import { CustomHeadersEditor } from './CustomHeadersEditor';
import { TextField } from './fields';

// The layout of Grafana's Prometheus-family datasources, from @grafana/plugin-ui: description, Connection, the
// Authentication section (method, TLS) and optional settings below. Every key is one pkg/models/settings.go or the
// SDK's HTTP client options read: url, basicAuth, basicAuthUser, jsonData.authType, the TLS keys, httpHeaderName<n>,
// the limits, gzip, and the secrets in secureJsonData.
//
// plugin-ui's AdvancedHttpSettings is not used: its two fields (jsonData.timeout, jsonData.keepCookies) would be
// ignored by the backend, which sets its HTTP client timeout from queryTimeout and forwards no cookies. The HTTP
// setting the backend does read (gzip) is in an "Advanced HTTP settings" subsection of the same name instead.

type Props = DataSourcePluginOptionsEditorProps<AnomalyDataSourceOptions, AnomalySecureJsonData>;
type Options = Props['options'];
type SecureKey = keyof AnomalySecureJsonData & string;

const BEARER_METHOD = 'custom-bearer' as const;

const DURATION_SETTINGS: Array<{ key: DurationSettingKey; label: string; help: string }> = [
  {
    key: 'queryTimeout',
    label: 'Query timeout',
    help: 'One query as a whole: upstream requests, imputation, training and scoring. Training stops when it runs out.',
  },
  {
    key: 'scrapeInterval',
    label: 'Scrape interval',
    help: 'How often Telegraf/Prometheus collects the metrics; $__rate_interval is derived from it.',
  },
  {
    key: 'cacheTTL',
    label: 'Forest cache TTL',
    help: 'How long a fitted forest is reused by dashboard refreshes and alert evaluations before it is refitted.',
  },
];

const INT_SETTINGS: Array<{ key: IntSettingKey; label: string; max: number; help: string }> = [
  {
    key: 'maxSeries',
    label: 'Max series',
    max: 10_000_000,
    help: 'Most series one feature expression may return; more is an error for that query.',
  },
  {
    key: 'maxPointsPerSeries',
    label: 'Max points per series',
    max: 10_000_000,
    help: 'Most points per series in one range request; the step is raised to stay under it (Prometheus allows 11000).',
  },
  {
    key: 'maxTrainingRows',
    label: 'Max training rows',
    max: 1_000_000_000,
    help: 'Most rows (sensor × timestamp) a forest learns from; more are subsampled with a fixed seed.',
  },
  {
    key: 'cacheMaxMiB',
    label: 'Forest cache (MiB)',
    max: 1_000_000,
    help: 'Memory the plugin may use to keep fitted forests.',
  },
  {
    key: 'memoryBudgetMiB',
    label: 'Memory budget (MiB)',
    max: 1_000_000,
    help: 'Most memory queries and cached forests may use together (fetched points, feature matrix, imputation, forests); a query over it is refused, naming the option to lower.',
  },
];

// plugin-ui's own fields use 24; the limits line up with them.
const LABEL_WIDTH = 24;

/** Resetting a stored secret: Grafana deletes it on save when the field is unflagged and sent empty. */
function resetSecrets(o: Options, keys: SecureKey[]): Options {
  return {
    ...o,
    secureJsonFields: { ...o.secureJsonFields, ...Object.fromEntries(keys.map((k) => [k, false])) },
    secureJsonData: { ...o.secureJsonData, ...Object.fromEntries(keys.map((k) => [k, ''])) },
  };
}

/** The backend's rule (pkg/models/settings.go): no authType means basic when basicAuth is on, else none. */
function currentAuthType(options: Options): AuthType {
  return options.jsonData.authType ?? (options.basicAuth ? 'basic' : 'none');
}

function toMethod(t: AuthType): AuthMethod | typeof BEARER_METHOD {
  return t === 'bearer' ? BEARER_METHOD : t === 'basic' ? AuthMethod.BasicAuth : AuthMethod.NoAuth;
}

function fromMethod(m: string): AuthType {
  return m === BEARER_METHOD ? 'bearer' : m === AuthMethod.BasicAuth ? 'basic' : 'none';
}

/** Only one credential is kept, so the backend never has to guess which one to send. */
function withAuthType(options: Options, method: AuthType): Options {
  let next: Options = {
    ...options,
    jsonData: { ...options.jsonData, authType: method },
    basicAuth: method === 'basic',
  };
  if (method !== 'basic') {
    next = resetSecrets({ ...next, basicAuthUser: '' }, ['basicAuthPassword']);
  }
  if (method !== 'bearer') {
    next = resetSecrets(next, ['bearerToken']);
  }
  return next;
}

export function ConfigEditor({ options, onOptionsChange }: Props) {
  const { jsonData, secureJsonFields = {}, secureJsonData = {} } = options;
  const styles = useStyles2(getStyles);
  // Numbers are edited as text so a half-typed value can be shown with its error instead of being swallowed.
  const [intDrafts, setIntDrafts] = useState<Partial<Record<IntSettingKey, string>>>({});

  const authType = currentAuthType(options);
  const urlError = options.url ? validateUrl(options.url) : undefined;

  const setJson = (patch: Partial<AnomalyDataSourceOptions>) =>
    onOptionsChange({ ...options, jsonData: { ...jsonData, ...patch } });

  // Basic auth fields and TLS from plugin-ui's mapping of Grafana's standard keys; the method list is ours, since
  // the backend knows none, basic and bearer (jsonData.authType), and neither OAuth forwarding nor browser access.
  const legacy = convertLegacyAuthProps({ config: options, onChange: onOptionsChange });
  const bearer = (
    <InlineField label="Token" labelWidth={LABEL_WIDTH} tooltip="Stored encrypted; only the backend reads it." grow>
      <SecretInput
        id="bearer-token-input"
        aria-label="Bearer token value"
        isConfigured={Boolean(secureJsonFields.bearerToken)}
        value={secureJsonData.bearerToken ?? ''}
        placeholder="Token"
        onReset={() => onOptionsChange(resetSecrets(options, ['bearerToken']))}
        onChange={(e: ChangeEvent<HTMLInputElement>) =>
          onOptionsChange({ ...options, secureJsonData: { ...secureJsonData, bearerToken: e.currentTarget.value } })
        }
      />
    </InlineField>
  );

  const intValue = (key: IntSettingKey): string =>
    intDrafts[key] ?? (jsonData[key] !== undefined ? String(jsonData[key]) : '');

  const onIntChange = (key: IntSettingKey, text: string) => {
    setIntDrafts({ ...intDrafts, [key]: text });
    const trimmed = text.trim();
    if (trimmed === '') {
      setJson({ [key]: undefined } as Partial<Pick<AnomalyDataSourceOptions, IntSettingKey>>);
    } else if (/^\d+$/.test(trimmed)) {
      setJson({ [key]: Number(trimmed) } as Partial<Pick<AnomalyDataSourceOptions, IntSettingKey>>);
    }
  };

  const intError = (key: IntSettingKey, label: string, max: number): string | undefined => {
    const draft = intDrafts[key];
    if (draft !== undefined && draft.trim() !== '' && !/^\d+$/.test(draft.trim())) {
      return `${label} must be a whole number`;
    }
    return validatePositiveInt(jsonData[key], max, label);
  };

  // The limits as data: durations are kept as typed (trimmed), whole numbers as numbers.
  const limitFields = [
    ...DURATION_SETTINGS.map(({ key, label, help }) => ({
      key,
      label,
      help,
      error: validateSettingDuration(jsonData[key], label),
      value: jsonData[key] ?? '',
      numeric: false,
      onChange: (text: string) => setJson({ [key]: text.trim() === '' ? undefined : text.trim() }),
    })),
    ...INT_SETTINGS.map(({ key, label, max, help }) => ({
      key,
      label,
      help,
      error: intError(key, label, max),
      value: intValue(key),
      numeric: true,
      onChange: (text: string) => onIntChange(key, text),
    })),
  ];

  return (
    <Stack direction="column" gap={0}>
      <DataSourceDescription dataSourceName="Hazewatch Anomaly" docsLink={DOCS_URL} hasRequiredFields />
      <Divider />

      <ConnectionSettings
        config={options}
        onChange={onOptionsChange}
        urlPlaceholder="http://prometheus:9090"
        urlTooltip="Base URL of the Prometheus HTTP API that Telegraf writes to: Prometheus, Mimir, Thanos or VictoriaMetrics."
      />
      {urlError && (
        <Text color="error" variant="bodySmall" element="p">
          {urlError}
        </Text>
      )}
      <Divider />

      <Auth
        selectedMethod={toMethod(authType)}
        visibleMethods={[AuthMethod.BasicAuth, BEARER_METHOD, AuthMethod.NoAuth]}
        defaultOptionsOverrides={{
          [AuthMethod.NoAuth]: { label: 'No authentication', description: 'The upstream needs no credentials' },
        }}
        customMethods={[
          {
            id: BEARER_METHOD,
            label: 'Bearer token',
            description: 'Authorization: Bearer <token>, e.g. for Grafana Cloud or a Mimir gateway',
            component: bearer,
          },
        ]}
        onAuthMethodSelect={(m) => onOptionsChange(withAuthType(options, fromMethod(m)))}
        basicAuth={legacy.basicAuth}
        TLS={legacy.TLS}
        readOnly={options.readOnly}
      />
      <ConfigSubSection
        className={styles.headers}
        title="HTTP headers"
        description="Sent with every upstream request, e.g. X-Scope-OrgID for Mimir. Values are stored encrypted."
      >
        <CustomHeadersEditor
          options={options}
          onOptionsChange={onOptionsChange}
          authSetsAuthorization={authType !== 'none'}
        />
      </ConfigSubSection>
      <Divider />

      <ConfigSection
        title="Additional settings"
        description="Optional: what the plugin asks of the upstream, and limits that protect Grafana and the upstream from queries that would fetch or train on too much."
        isCollapsible
        isInitiallyOpen
      >
        <ConfigSubSection title="Advanced HTTP settings">
          <InlineField
            label="Compress answers (gzip)"
            labelWidth={LABEL_WIDTH}
            tooltip="Ask the upstream to gzip its answers. Helps on slow links; on a LAN it costs the upstream more CPU than it saves."
          >
            <InlineSwitch
              id="config-gzip"
              aria-label="Compress answers"
              value={Boolean(jsonData.gzip)}
              onChange={(e) => setJson({ gzip: e.currentTarget.checked })}
            />
          </InlineField>
        </ConfigSubSection>
        <ConfigSubSection title="Query limits" description="Empty = the default shown.">
          {limitFields.map(({ key, help, numeric, ...field }) => (
            <TextField
              key={key}
              {...field}
              id={`config-${key}`}
              labelWidth={LABEL_WIDTH}
              tooltip={help}
              placeholder={String(DEFAULT_SETTINGS[key])}
              inputMode={numeric ? 'numeric' : undefined}
              width={20}
            />
          ))}
        </ConfigSubSection>
      </ConfigSection>
      <Text color="secondary" element="p">
        Save &amp; test asks the upstream for its build info and shows whether it answers and which version it runs.
      </Text>
    </Stack>
  );
}

// Where plugin-ui's own header list would sit: below TLS, as far apart as its subsections are.
const getStyles = (theme: GrafanaTheme2) => ({
  headers: css({ marginTop: theme.spacing(3) }),
});
