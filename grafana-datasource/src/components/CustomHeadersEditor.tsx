import React, { ChangeEvent, useState } from 'react';
import { DataSourceSettings } from '@grafana/data';
import { Button, Field, IconButton, Input, SecretInput, Stack } from '@grafana/ui';

import { AnomalyDataSourceOptions, AnomalySecureJsonData } from '../types';

// The custom headers editor: jsonData.httpHeaderName<n> with secureJsonData.httpHeaderValue<n>, numbered from 1
// without gaps, which is how the SDK's HTTP client options read them.
//
// @grafana/plugin-ui's own header list (Auth's customHeaders) is not used: when a header is removed it keeps the
// stored-value flag of the header that moves into the freed number, so the moved header would be sent with the
// removed header's secret value; it also orders httpHeaderName10 before httpHeaderName2. Here a stored value that
// has to move is asked for again instead.

type Options = DataSourceSettings<AnomalyDataSourceOptions, AnomalySecureJsonData>;

interface Header {
  name: string;
  configured: boolean;
  value: string;
}

/** Current custom headers from jsonData httpHeaderName1..N (numbered without gaps). */
function readHeaders(options: Options): Header[] {
  const headers: Header[] = [];
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

const TOKEN = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/;

function nameError(name: string, authSetsAuthorization: boolean): string | undefined {
  if (name.trim() === '') {
    return 'header name is required';
  }
  if (!TOKEN.test(name)) {
    return 'not a valid header name';
  }
  if (authSetsAuthorization && name.toLowerCase() === 'authorization') {
    return 'Authorization is set by the authentication method above';
  }
  return undefined;
}

export interface CustomHeadersEditorProps {
  options: Options;
  onOptionsChange: (options: Options) => void;
  /** An authentication method that sends Authorization itself is chosen: a custom Authorization header clashes. */
  authSetsAuthorization: boolean;
}

export function CustomHeadersEditor({ options, onOptionsChange, authSetsAuthorization }: CustomHeadersEditorProps) {
  // Header values that had to be re-entered because removing a header renumbered the ones after it.
  const [reenter, setReenter] = useState<Set<number>>(new Set());
  const headers = readHeaders(options);

  const writeHeaders = (list: Header[], removedCount: number) => {
    const nextJson: AnomalyDataSourceOptions = { ...options.jsonData };
    const nextSecure: AnomalySecureJsonData = { ...options.secureJsonData };
    const nextFields: Record<string, boolean> = { ...options.secureJsonFields };
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
    // Grafana deletes a stored secret on save when its flag is off and its value is sent empty.
    for (let i = list.length + 1; i <= list.length + removedCount; i++) {
      nextSecure[`httpHeaderValue${i}`] = '';
      nextFields[`httpHeaderValue${i}`] = false;
    }
    onOptionsChange({ ...options, jsonData: nextJson, secureJsonData: nextSecure, secureJsonFields: nextFields });
  };

  const replace = (i: number, patch: Partial<Header>) =>
    writeHeaders(
      headers.map((x, j) => (j === i ? { ...x, ...patch } : x)),
      0
    );

  const removeHeader = (index: number) => {
    const mustReenter = new Set<number>();
    const next = headers
      .filter((_, i) => i !== index)
      .map((h, i) => {
        if (i >= index && h.configured) {
          // Stored values are not readable here, so a header that moves to a new number must be typed again.
          mustReenter.add(i);
          return { ...h, configured: false, value: '' };
        }
        return h;
      });
    setReenter(mustReenter);
    writeHeaders(next, 1);
  };

  return (
    <Stack direction="column" gap={1}>
      {headers.map((h, i) => {
        const error = nameError(h.name, authSetsAuthorization);
        return (
          <Stack key={i} gap={1} alignItems="flex-start">
            <Field invalid={Boolean(error)} error={error}>
              <Input
                aria-label={`Header ${i + 1} name`}
                value={h.name}
                placeholder="X-Scope-OrgID"
                width={30}
                onChange={(e: ChangeEvent<HTMLInputElement>) => replace(i, { name: e.currentTarget.value })}
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
                onReset={() => replace(i, { configured: false, value: '' })}
                onChange={(e: ChangeEvent<HTMLInputElement>) => {
                  replace(i, { value: e.currentTarget.value });
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
      <div>
        <Button
          variant="secondary"
          icon="plus"
          size="sm"
          onClick={() => writeHeaders([...headers, { name: '', configured: false, value: '' }], 0)}
        >
          Add header
        </Button>
      </div>
    </Stack>
  );
}
