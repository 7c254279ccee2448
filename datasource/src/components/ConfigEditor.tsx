import React, { ChangeEvent } from 'react';
import { DataSourcePluginOptionsEditorProps } from '@grafana/data';
import { DataSourceHttpSettings, FieldSet, InlineField, Input, RadioButtonGroup, SecretInput } from '@grafana/ui';

import { KizashiOptions, KizashiSecureJsonData, listFromText, listText, Mode } from '../types';

type Props = DataSourcePluginOptionsEditorProps<KizashiOptions, KizashiSecureJsonData>;

const modes: Array<{ label: string; value: Mode }> = [
  { label: 'Auto', value: 'auto' },
  { label: 'On', value: 'on' },
  { label: 'Off', value: 'off' },
];

const labelWidth = 22;

/**
 * Prometheus connection (URL, basic auth, TLS, timeout: Grafana's standard HTTP settings, applied by
 * the backend through settings.HTTPClientOptions), a bearer token, engine defaults, limits, and the
 * webhook for incidents. Secrets go to secureJsonData only.
 */
export function ConfigEditor(props: Props) {
  const { options, onOptionsChange } = props;
  const jsonData = options.jsonData;
  const secureFields = options.secureJsonFields ?? {};
  const secure = (options.secureJsonData ?? {}) as KizashiSecureJsonData;

  const setJSON = <K extends keyof KizashiOptions>(key: K, value: KizashiOptions[K]) =>
    onOptionsChange({ ...options, jsonData: { ...jsonData, [key]: value } });
  const setNumber = (key: 'timeout' | 'sensitivity' | 'maxSeries' | 'maxPoints') => (e: ChangeEvent<HTMLInputElement>) =>
    setJSON(key, e.currentTarget.value === '' ? undefined : Number(e.currentTarget.value));
  const setText = (key: 'warmUp' | 'horizon' | 'webhookUrl' | 'webhookTenant' | 'timezone') => (e: ChangeEvent<HTMLInputElement>) =>
    setJSON(key, e.currentTarget.value);
  const setList = (key: 'holidays') => (e: ChangeEvent<HTMLInputElement>) => setJSON(key, listFromText(e.currentTarget.value));
  const setSecret = (key: keyof KizashiSecureJsonData) => (e: ChangeEvent<HTMLInputElement>) =>
    onOptionsChange({ ...options, secureJsonData: { ...secure, [key]: e.currentTarget.value } });
  const resetSecret = (key: keyof KizashiSecureJsonData) => () =>
    onOptionsChange({
      ...options,
      secureJsonFields: { ...secureFields, [key]: false },
      secureJsonData: { ...secure, [key]: '' },
    });

  return (
    <>
      <DataSourceHttpSettings
        defaultUrl="http://localhost:9090"
        dataSourceConfig={options}
        onChange={onOptionsChange}
        showAccessOptions={false}
        secureSocksDSProxyEnabled={false}
      />

      <FieldSet label="Bearer token">
        <InlineField label="Auth type" labelWidth={labelWidth} tooltip="Basic auth is set above; bearer sends Authorization: Bearer <token>">
          <RadioButtonGroup
            options={[
              { label: 'None / basic', value: 'none' },
              { label: 'Bearer', value: 'bearer' },
            ]}
            value={jsonData.authType === 'bearer' ? 'bearer' : 'none'}
            onChange={(v) => setJSON('authType', v as 'none' | 'bearer')}
          />
        </InlineField>
        {jsonData.authType === 'bearer' && (
          <InlineField label="Token" labelWidth={labelWidth}>
            <SecretInput
              width={40}
              isConfigured={!!secureFields.bearerToken}
              value={secure.bearerToken ?? ''}
              onChange={setSecret('bearerToken')}
              onReset={resetSecret('bearerToken')}
            />
          </InlineField>
        )}
      </FieldSet>

      <FieldSet label="Engine defaults (a query can override them)">
        <InlineField label="Sensitivity" labelWidth={labelWidth} tooltip="0..1: 0.5 gives a ±3σ band, 1 gives ±1.5σ, 0 gives ±6σ">
          <Input type="number" min={0} max={1} step={0.05} width={12} value={jsonData.sensitivity ?? ''} placeholder="0.5" onChange={setNumber('sensitivity')} />
        </InlineField>
        {(['daily', 'weekly', 'trend'] as const).map((k) => (
          <InlineField key={k} label={k === 'trend' ? 'Trend' : `${k[0].toUpperCase()}${k.slice(1)} seasonality`} labelWidth={labelWidth}>
            <RadioButtonGroup options={modes} value={jsonData[k] ?? 'auto'} onChange={(v) => setJSON(k, v)} />
          </InlineField>
        ))}
        <InlineField
          label="Warm-up history"
          labelWidth={labelWidth}
          tooltip="Fetched before the panel range so that the models have learned (empty: 7d as the exporter's training window, 14d for forecasts)"
        >
          <Input width={12} value={jsonData.warmUp ?? ''} placeholder="7d / 14d" onChange={setText('warmUp')} />
        </InlineField>
        <InlineField
          label="Time zone"
          labelWidth={labelWidth}
          tooltip="IANA zone whose days and weeks the seasonal profiles follow (Europe/Berlin, Asia/Tokyo): office hours stay put when the clocks change. Empty: UTC"
        >
          <Input width={24} value={jsonData.timezone ?? ''} placeholder="UTC" onChange={setText('timezone')} />
        </InlineField>
        <InlineField
          label="Holidays"
          labelWidth={labelWidth}
          tooltip="Days the weekly profiles read as Sundays, in the time zone above: dates and ranges separated by commas, e.g. 2026-04-29,2026-05-03..2026-05-06"
        >
          <Input width={40} value={listText(jsonData.holidays)} placeholder="2026-05-04,2026-12-29..2027-01-03" onChange={setList('holidays')} />
        </InlineField>
        <InlineField label="Forecast horizon" labelWidth={labelWidth}>
          <Input width={12} value={jsonData.horizon ?? ''} placeholder="6h" onChange={setText('horizon')} />
        </InlineField>
      </FieldSet>

      <FieldSet label="Limits per query">
        <InlineField label="Max series" labelWidth={labelWidth}>
          <Input type="number" min={1} width={12} value={jsonData.maxSeries ?? ''} placeholder="500" onChange={setNumber('maxSeries')} />
        </InlineField>
        <InlineField label="Max points" labelWidth={labelWidth} tooltip="Samples read per query, all series and the warm-up included">
          <Input type="number" min={1} width={12} value={jsonData.maxPoints ?? ''} placeholder="5000000" onChange={setNumber('maxPoints')} />
        </InlineField>
      </FieldSet>

      <FieldSet label="Incidents (kizashi-webhook)">
        <InlineField label="Webhook URL" labelWidth={labelWidth}>
          <Input width={40} value={jsonData.webhookUrl ?? ''} placeholder="http://kizashi-webhook:8080" onChange={setText('webhookUrl')} />
        </InlineField>
        <InlineField label="Tenant" labelWidth={labelWidth} tooltip="Only this tenant's incidents (empty: all the token may read)">
          <Input width={40} value={jsonData.webhookTenant ?? ''} onChange={setText('webhookTenant')} />
        </InlineField>
        <InlineField
          label="API token"
          labelWidth={labelWidth}
          tooltip="An operator token or the tenant's API token (tenants[].api_tokens, role read); the tenant's Alertmanager token only posts alerts"
        >
          <SecretInput
            width={40}
            isConfigured={!!secureFields.webhookToken}
            value={secure.webhookToken ?? ''}
            onChange={setSecret('webhookToken')}
            onReset={resetSecret('webhookToken')}
          />
        </InlineField>
      </FieldSet>
    </>
  );
}
