import React, { ChangeEvent, useState } from 'react';
import { DataSourcePluginOptionsEditorProps } from '@grafana/data';
import {
  Button,
  Field,
  FieldSet,
  IconButton,
  InlineField,
  InlineSwitch,
  Input,
  RadioButtonGroup,
  SecretInput,
  SecretTextArea,
  Stack,
  Text,
} from '@grafana/ui';

import {
  AnomalyDataSourceOptions,
  AnomalySecureJsonData,
  AuthType,
  DEFAULT_SETTINGS,
  DurationSettingKey,
  IntSettingKey,
} from '../types';
import { validatePositiveInt, validateSettingDuration, validateUrl } from '../validation';

type Props = DataSourcePluginOptionsEditorProps<AnomalyDataSourceOptions, AnomalySecureJsonData>;
type Options = Props['options'];
type SecureKey = keyof AnomalySecureJsonData & string;

const AUTH_OPTIONS: Array<{ label: string; value: AuthType; description: string }> = [
  { label: 'No authentication', value: 'none', description: 'The upstream needs no credentials' },
  { label: 'Basic auth', value: 'basic', description: 'User and password' },
  { label: 'Bearer token', value: 'bearer', description: 'Authorization: Bearer <token>' },
];

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

const LABEL_WIDTH = 26;

/** Current custom headers from jsonData httpHeaderName1..N (numbered without gaps). */
function readHeaders(options: Options): Array<{ name: string; configured: boolean; value: string }> {
  const headers: Array<{ name: string; configured: boolean; value: string }> = [];
  for (let i = 1; ; i++) {
    const name = options.jsonData[`httpHeaderName${i}`];
    if (name === undefined) {
      break;
    }
    headers.push({
      name,
      configured: Boolean(options.secureJsonFields?.[`httpHeaderValue${i}`]),
      value: options.secureJsonData?.[`httpHeaderValue${i}`] ?? '',
    });
  }
  return headers;
}

export function ConfigEditor({ options, onOptionsChange }: Props) {
  const { jsonData, secureJsonFields = {}, secureJsonData = {} } = options;
  // Numbers are edited as text so a half-typed value can be shown with its error instead of being swallowed.
  const [intDrafts, setIntDrafts] = useState<Partial<Record<IntSettingKey, string>>>({});
  // Header values that had to be re-entered because removing a header renumbered the ones after it.
  const [reenter, setReenter] = useState<Set<number>>(new Set());

  // The backend's rule (pkg/models/settings.go): no authType means basic when basicAuth is on, else none.
  const authType: AuthType = jsonData.authType ?? (options.basicAuth ? 'basic' : 'none');
  const urlError = validateUrl(options.url);

  const setJson = (patch: Partial<AnomalyDataSourceOptions>) =>
    onOptionsChange({ ...options, jsonData: { ...jsonData, ...patch } });

  const setSecret = (key: SecureKey, value: string) =>
    onOptionsChange({ ...options, secureJsonData: { ...secureJsonData, [key]: value } });

  // Resetting a stored secret: Grafana deletes it on save when the field is unflagged and sent empty.
  const resetSecrets = (o: Options, keys: SecureKey[]): Options => ({
    ...o,
    secureJsonFields: { ...o.secureJsonFields, ...Object.fromEntries(keys.map((k) => [k, false])) },
    secureJsonData: { ...o.secureJsonData, ...Object.fromEntries(keys.map((k) => [k, ''])) },
  });

  const onAuthChange = (method: AuthType) => {
    // Only one credential is kept: the backend never has to guess which one to send.
    let next: Options = { ...options, jsonData: { ...jsonData, authType: method }, basicAuth: method === 'basic' };
    if (method !== 'basic') {
      next = resetSecrets({ ...next, basicAuthUser: '' }, ['basicAuthPassword']);
    }
    if (method !== 'bearer') {
      next = resetSecrets(next, ['bearerToken']);
    }
    onOptionsChange(next);
  };

  const headers = readHeaders(options);

  const writeHeaders = (
    list: Array<{ name: string; configured: boolean; value: string }>,
    removedCount: number,
    base: Options = options
  ) => {
    const nextJson: AnomalyDataSourceOptions = { ...base.jsonData };
    const nextSecure: AnomalySecureJsonData = { ...base.secureJsonData };
    const nextFields: Record<string, boolean> = { ...base.secureJsonFields };
    for (let i = 1; i <= list.length + removedCount; i++) {
      delete nextJson[`httpHeaderName${i}`];
    }
    list.forEach((h, idx) => {
      const i = idx + 1;
      nextJson[`httpHeaderName${i}`] = h.name;
      if (!h.configured) {
        nextSecure[`httpHeaderValue${i}`] = h.value;
        nextFields[`httpHeaderValue${i}`] = false;
      }
    });
    for (let i = list.length + 1; i <= list.length + removedCount; i++) {
      nextSecure[`httpHeaderValue${i}`] = '';
      nextFields[`httpHeaderValue${i}`] = false;
    }
    onOptionsChange({ ...base, jsonData: nextJson, secureJsonData: nextSecure, secureJsonFields: nextFields });
  };

  const removeHeader = (index: number) => {
    const next = headers
      .filter((_, i) => i !== index)
      .map((h, i) => {
        if (i >= index && h.configured) {
          // Stored values are not readable here, so a header that moves to a new number must be typed again.
          return { ...h, configured: false, value: '' };
        }
        return h;
      });
    const mustReenter = new Set<number>();
    next.forEach((h, i) => {
      if (i >= index && headers[i + 1]?.configured) {
        mustReenter.add(i);
      }
    });
    setReenter(mustReenter);
    writeHeaders(next, 1);
  };

  const intValue = (key: IntSettingKey): string =>
    intDrafts[key] ?? (jsonData[key] !== undefined ? String(jsonData[key]) : '');

  const onIntChange = (key: IntSettingKey) => (e: ChangeEvent<HTMLInputElement>) => {
    const text = e.currentTarget.value;
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

  return (
    <Stack direction="column" gap={2}>
      <FieldSet label="Connection">
        <Field
          label="Prometheus-compatible URL"
          description="Base URL of the Prometheus HTTP API that Telegraf writes to: Prometheus, Mimir, Thanos or VictoriaMetrics."
          invalid={Boolean(urlError) && options.url !== undefined && options.url !== ''}
          error={urlError}
          required
        >
          <Input
            id="config-url"
            aria-label="URL"
            value={options.url ?? ''}
            placeholder="http://prometheus:9090"
            width={60}
            onChange={(e: ChangeEvent<HTMLInputElement>) => onOptionsChange({ ...options, url: e.currentTarget.value })}
          />
        </Field>
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
      </FieldSet>

      <FieldSet label="Authentication">
        <Field label="Method">
          <RadioButtonGroup<AuthType> options={AUTH_OPTIONS} value={authType} onChange={onAuthChange} />
        </Field>
        {authType === 'basic' && (
          <>
            <InlineField label="User" labelWidth={LABEL_WIDTH}>
              <Input
                id="config-basic-user"
                aria-label="Basic auth user"
                value={options.basicAuthUser ?? ''}
                width={40}
                onChange={(e: ChangeEvent<HTMLInputElement>) =>
                  onOptionsChange({ ...options, basicAuthUser: e.currentTarget.value })
                }
              />
            </InlineField>
            <InlineField label="Password" labelWidth={LABEL_WIDTH}>
              <SecretInput
                id="config-basic-password"
                aria-label="Basic auth password"
                isConfigured={Boolean(secureJsonFields.basicAuthPassword)}
                value={secureJsonData.basicAuthPassword ?? ''}
                width={40}
                onReset={() => onOptionsChange(resetSecrets(options, ['basicAuthPassword']))}
                onChange={(e: ChangeEvent<HTMLInputElement>) => setSecret('basicAuthPassword', e.currentTarget.value)}
              />
            </InlineField>
          </>
        )}
        {authType === 'bearer' && (
          <InlineField label="Token" labelWidth={LABEL_WIDTH} tooltip="Stored encrypted; only the backend reads it.">
            <SecretInput
              id="config-bearer-token"
              aria-label="Bearer token value"
              isConfigured={Boolean(secureJsonFields.bearerToken)}
              value={secureJsonData.bearerToken ?? ''}
              width={40}
              onReset={() => onOptionsChange(resetSecrets(options, ['bearerToken']))}
              onChange={(e: ChangeEvent<HTMLInputElement>) => setSecret('bearerToken', e.currentTarget.value)}
            />
          </InlineField>
        )}
      </FieldSet>

      <FieldSet label="TLS">
        <InlineField
          label="Skip TLS verification"
          labelWidth={LABEL_WIDTH}
          tooltip="Accept any server certificate. Only for testing: it makes the connection open to interception."
        >
          <InlineSwitch
            id="config-tls-skip-verify"
            aria-label="Skip TLS verification"
            value={Boolean(jsonData.tlsSkipVerify)}
            onChange={(e) => setJson({ tlsSkipVerify: e.currentTarget.checked })}
          />
        </InlineField>
        <InlineField
          label="TLS client auth"
          labelWidth={LABEL_WIDTH}
          tooltip="Authenticate to the upstream with a TLS client certificate (mutual TLS)."
        >
          <InlineSwitch
            id="config-tls-client-auth"
            aria-label="TLS client authentication"
            value={Boolean(jsonData.tlsAuth)}
            onChange={(e) => setJson({ tlsAuth: e.currentTarget.checked })}
          />
        </InlineField>
        {jsonData.tlsAuth && (
          <>
            <InlineField label="Client certificate (PEM)" labelWidth={LABEL_WIDTH}>
              <SecretTextArea
                id="config-tls-client-cert"
                aria-label="Client certificate"
                isConfigured={Boolean(secureJsonFields.tlsClientCert)}
                value={secureJsonData.tlsClientCert ?? ''}
                placeholder="-----BEGIN CERTIFICATE-----"
                cols={50}
                rows={4}
                onReset={() => onOptionsChange(resetSecrets(options, ['tlsClientCert']))}
                onChange={(e: ChangeEvent<HTMLTextAreaElement>) => setSecret('tlsClientCert', e.currentTarget.value)}
              />
            </InlineField>
            <InlineField label="Client key (PEM)" labelWidth={LABEL_WIDTH}>
              <SecretTextArea
                id="config-tls-client-key"
                aria-label="Client key"
                isConfigured={Boolean(secureJsonFields.tlsClientKey)}
                value={secureJsonData.tlsClientKey ?? ''}
                placeholder="-----BEGIN PRIVATE KEY-----"
                cols={50}
                rows={4}
                onReset={() => onOptionsChange(resetSecrets(options, ['tlsClientKey']))}
                onChange={(e: ChangeEvent<HTMLTextAreaElement>) => setSecret('tlsClientKey', e.currentTarget.value)}
              />
            </InlineField>
          </>
        )}
        <InlineField label="Custom CA certificate" labelWidth={LABEL_WIDTH} tooltip="Verify the server with this CA.">
          <InlineSwitch
            id="config-tls-ca"
            aria-label="Custom CA certificate"
            value={Boolean(jsonData.tlsAuthWithCACert)}
            onChange={(e) => setJson({ tlsAuthWithCACert: e.currentTarget.checked })}
          />
        </InlineField>
        {jsonData.tlsAuthWithCACert && (
          <InlineField label="CA certificate (PEM)" labelWidth={LABEL_WIDTH}>
            <SecretTextArea
              id="config-tls-ca-cert"
              aria-label="CA certificate"
              isConfigured={Boolean(secureJsonFields.tlsCACert)}
              value={secureJsonData.tlsCACert ?? ''}
              placeholder="-----BEGIN CERTIFICATE-----"
              cols={50}
              rows={4}
              onReset={() => onOptionsChange(resetSecrets(options, ['tlsCACert']))}
              onChange={(e: ChangeEvent<HTMLTextAreaElement>) => setSecret('tlsCACert', e.currentTarget.value)}
            />
          </InlineField>
        )}
        {(jsonData.tlsAuth || jsonData.tlsAuthWithCACert) && (
          <InlineField
            label="Server name"
            labelWidth={LABEL_WIDTH}
            tooltip="Expected name in the certificate, if not the URL's host."
          >
            <Input
              id="config-tls-server-name"
              aria-label="TLS server name"
              value={jsonData.serverName ?? ''}
              width={40}
              onChange={(e: ChangeEvent<HTMLInputElement>) => setJson({ serverName: e.currentTarget.value })}
            />
          </InlineField>
        )}
      </FieldSet>

      <FieldSet label="Custom HTTP headers">
        <Text color="secondary" element="p">
          Sent with every upstream request, e.g. X-Scope-OrgID for Mimir. Values are stored encrypted.
        </Text>
        {headers.map((h, i) => {
          const nameError =
            h.name.trim() === ''
              ? 'header name is required'
              : !/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(h.name)
                ? 'not a valid header name'
                : authType !== 'none' && h.name.toLowerCase() === 'authorization'
                  ? 'Authorization is set by the authentication method above'
                  : undefined;
          return (
            <Stack key={i} gap={1} alignItems="flex-start">
              <Field invalid={Boolean(nameError)} error={nameError}>
                <Input
                  aria-label={`Header ${i + 1} name`}
                  value={h.name}
                  placeholder="X-Scope-OrgID"
                  width={30}
                  onChange={(e: ChangeEvent<HTMLInputElement>) =>
                    writeHeaders(
                      headers.map((x, j) => (j === i ? { ...x, name: e.currentTarget.value } : x)),
                      0
                    )
                  }
                />
              </Field>
              <Field
                invalid={reenter.has(i)}
                error={reenter.has(i) ? 'headers were renumbered: enter this value again' : undefined}
              >
                <SecretInput
                  aria-label={`Header ${i + 1} value`}
                  isConfigured={h.configured}
                  value={h.value}
                  placeholder="value"
                  width={40}
                  onReset={() =>
                    writeHeaders(
                      headers.map((x, j) => (j === i ? { ...x, configured: false, value: '' } : x)),
                      0
                    )
                  }
                  onChange={(e: ChangeEvent<HTMLInputElement>) => {
                    const value = e.currentTarget.value;
                    writeHeaders(
                      headers.map((x, j) => (j === i ? { ...x, value } : x)),
                      0
                    );
                    if (reenter.has(i)) {
                      const r = new Set(reenter);
                      r.delete(i);
                      setReenter(r);
                    }
                  }}
                />
              </Field>
              <IconButton name="trash-alt" tooltip={`Remove header ${i + 1}`} onClick={() => removeHeader(i)} />
            </Stack>
          );
        })}
        <Button
          variant="secondary"
          icon="plus"
          size="sm"
          onClick={() => writeHeaders([...headers, { name: '', configured: false, value: '' }], 0)}
        >
          Add header
        </Button>
      </FieldSet>

      <FieldSet label="Query limits">
        <Text color="secondary" element="p">
          Protect Grafana and the upstream from queries that would fetch or train on too much. Empty = the default
          shown.
        </Text>
        {DURATION_SETTINGS.map(({ key, label, help }) => {
          const error = validateSettingDuration(jsonData[key], label);
          return (
            <InlineField
              key={key}
              label={label}
              labelWidth={LABEL_WIDTH}
              tooltip={help}
              invalid={Boolean(error)}
              error={error}
            >
              <Input
                id={`config-${key}`}
                aria-label={label}
                value={jsonData[key] ?? ''}
                placeholder={DEFAULT_SETTINGS[key]}
                width={20}
                onChange={(e: ChangeEvent<HTMLInputElement>) =>
                  setJson({ [key]: e.currentTarget.value.trim() === '' ? undefined : e.currentTarget.value.trim() })
                }
              />
            </InlineField>
          );
        })}
        {INT_SETTINGS.map(({ key, label, max, help }) => {
          const error = intError(key, label, max);
          return (
            <InlineField
              key={key}
              label={label}
              labelWidth={LABEL_WIDTH}
              tooltip={help}
              invalid={Boolean(error)}
              error={error}
            >
              <Input
                id={`config-${key}`}
                aria-label={label}
                value={intValue(key)}
                placeholder={String(DEFAULT_SETTINGS[key])}
                inputMode="numeric"
                width={20}
                onChange={onIntChange(key)}
              />
            </InlineField>
          );
        })}
      </FieldSet>
      <Text color="secondary" element="p">
        Save &amp; test asks the upstream for its build info and shows whether it answers and which version it runs.
      </Text>
    </Stack>
  );
}
