import React, { ChangeEvent, useEffect, useState } from 'react';
import { QueryEditorProps, SelectableValue } from '@grafana/data';
import { InlineField, InlineFieldRow, Input, MultiSelect, RadioButtonGroup, Select, TextArea } from '@grafana/ui';

import { DataSource } from '../datasource';
import { KizashiOptions, KizashiQuery, listFromText, listText, QueryType, queryTypes, SeriesField, seriesFields } from '../types';

type Props = QueryEditorProps<DataSource, KizashiQuery, KizashiOptions>;

const labelWidth = 14;

/** Query type, expression, engine settings, forecast horizon and threshold, exporter query name. */
export function QueryEditor({ query, onChange, onRunQuery, datasource }: Props) {
  const type: QueryType = query.queryType ?? 'anomaly';
  const [queryNames, setQueryNames] = useState<Array<SelectableValue<string>>>([]);

  useEffect(() => {
    if (type !== 'exported') {
      return;
    }
    let live = true;
    datasource
      .exportedQueryNames()
      .then((names) => live && setQueryNames(names.map((n) => ({ label: n, value: n }))))
      .catch(() => live && setQueryNames([]));
    return () => {
      live = false;
    };
  }, [datasource, type]);

  const set = (patch: Partial<KizashiQuery>, run = false) => {
    onChange({ ...query, ...patch });
    if (run) {
      onRunQuery();
    }
  };
  const text = (key: 'expr' | 'legendFormat' | 'step' | 'warmUp' | 'horizon' | 'breachWithin' | 'timezone') => (e: ChangeEvent<HTMLInputElement | HTMLTextAreaElement>) =>
    set({ [key]: e.currentTarget.value || undefined });
  const num = (key: 'sensitivity' | 'threshold' | 'min') => (e: ChangeEvent<HTMLInputElement>) =>
    set({ [key]: e.currentTarget.value === '' ? undefined : Number(e.currentTarget.value) });

  return (
    <>
      <InlineFieldRow>
        <InlineField label="Query type" labelWidth={labelWidth}>
          <Select
            width={20}
            options={queryTypes}
            value={type}
            onChange={(v) => set({ queryType: v.value }, true)}
            aria-label="Query type"
          />
        </InlineField>
        {type === 'exported' && (
          <InlineField label="Query name" labelWidth={labelWidth} tooltip="kizashi_query label the exporter publishes">
            <Select
              width={30}
              allowCustomValue
              options={queryNames}
              value={query.queryName}
              onChange={(v) => set({ queryName: v.value }, true)}
              aria-label="Exporter query name"
            />
          </InlineField>
        )}
      </InlineFieldRow>

      {type !== 'incidents' && (
        <InlineField label="PromQL" labelWidth={labelWidth} grow tooltip={type === 'exported' ? 'Optional: the raw series to show with the exported band' : undefined}>
          <TextArea
            rows={2}
            value={query.expr ?? ''}
            placeholder='rate(http_requests_total{job="api"}[5m])'
            onChange={text('expr')}
            onBlur={onRunQuery}
            aria-label="PromQL expression"
          />
        </InlineField>
      )}

      {(type === 'anomaly' || type === 'forecast') && (
        <InlineFieldRow>
          <InlineField label="Sensitivity" labelWidth={labelWidth} tooltip="0..1; empty: the data source's default">
            <Input type="number" min={0} max={1} step={0.05} width={10} value={query.sensitivity ?? ''} onChange={num('sensitivity')} onBlur={onRunQuery} aria-label="Sensitivity" />
          </InlineField>
          <InlineField label="Warm-up" labelWidth={10} tooltip="History before the panel range, e.g. 7d">
            <Input width={10} value={query.warmUp ?? ''} placeholder={type === 'forecast' ? '14d' : '7d'} onChange={text('warmUp')} onBlur={onRunQuery} />
          </InlineField>
          <InlineField label="Step" labelWidth={8} tooltip="Empty: Grafana's interval">
            <Input width={10} value={query.step ?? ''} placeholder="auto" onChange={text('step')} onBlur={onRunQuery} />
          </InlineField>
          <InlineField label="Min" labelWidth={8} tooltip="Clamp band and forecast from below, e.g. 0 for rates">
            <Input type="number" width={10} value={query.min ?? ''} onChange={num('min')} onBlur={onRunQuery} />
          </InlineField>
          <InlineField label="Time zone" labelWidth={10} tooltip="Where the series' days and weeks start, e.g. Europe/Berlin: office hours stay put when the clocks change. Empty: the data source's (UTC)">
            <Input width={18} value={query.timezone ?? ''} placeholder="UTC" onChange={text('timezone')} onBlur={onRunQuery} aria-label="Time zone" />
          </InlineField>
          <InlineField label="Holidays" labelWidth={10} tooltip="Days the weekly profiles read as Sundays, in the time zone: dates and ranges, comma-separated. Empty: the data source's">
            <Input
              width={30}
              value={listText(query.holidays)}
              placeholder="2026-05-04,2026-12-29..2027-01-03"
              onChange={(e: ChangeEvent<HTMLInputElement>) => set({ holidays: listFromText(e.currentTarget.value) })}
              onBlur={onRunQuery}
              aria-label="Holidays"
            />
          </InlineField>
        </InlineFieldRow>
      )}

      {type === 'forecast' && (
        <InlineFieldRow>
          <InlineField label="Horizon" labelWidth={labelWidth} tooltip="How far ahead, e.g. 6h, 2d">
            <Input width={10} value={query.horizon ?? ''} placeholder="6h" onChange={text('horizon')} onBlur={onRunQuery} aria-label="Horizon" />
          </InlineField>
          <InlineField label="Threshold" labelWidth={10} tooltip="Breach ETA: time until the forecast crosses this value">
            <Input type="number" width={14} value={query.threshold ?? ''} onChange={num('threshold')} onBlur={onRunQuery} aria-label="Threshold" />
          </InlineField>
          <InlineField label="Within" labelWidth={8} tooltip="How far ahead the breach is looked for">
            <Input width={8} value={query.breachWithin ?? ''} placeholder="7d" onChange={text('breachWithin')} onBlur={onRunQuery} aria-label="Breach within" />
          </InlineField>
          <InlineField label="Stay" labelWidth={8} tooltip="Below: an upper limit (usage, latency). Above: a lower limit (free space).">
            <RadioButtonGroup
              options={[
                { label: 'below', value: 'below' },
                { label: 'above', value: 'above' },
              ]}
              value={query.breach ?? 'below'}
              onChange={(v) => set({ breach: v as 'below' | 'above' }, true)}
            />
          </InlineField>
        </InlineFieldRow>
      )}

      {type !== 'incidents' && (
        <InlineFieldRow>
          <InlineField label="Legend" labelWidth={labelWidth} tooltip="e.g. {{instance}}; empty: the label set">
            <Input width={30} value={query.legendFormat ?? ''} onChange={text('legendFormat')} onBlur={onRunQuery} />
          </InlineField>
          <InlineField label="Fields" labelWidth={8} tooltip="Keep only these fields; empty: all. An alert rule keeps one number field: score, forecast or breach eta">
            <MultiSelect<SeriesField>
              width={40}
              options={seriesFields.map((f) => ({ label: f, value: f }))}
              value={query.fields ?? []}
              onChange={(v) => set({ fields: v.map((o) => o.value!).filter(Boolean) }, true)}
            />
          </InlineField>
        </InlineFieldRow>
      )}
    </>
  );
}
