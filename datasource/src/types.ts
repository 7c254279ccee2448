import { DataQuery, DataSourceJsonData } from '@grafana/data';

/** Query types, routed by the backend on queryType. */
export type QueryType = 'anomaly' | 'forecast' | 'exported' | 'incidents';

export const queryTypes: Array<{ label: string; value: QueryType; description: string }> = [
  { label: 'Anomaly', value: 'anomaly', description: 'Raw series with the learned band, anomaly score and deviation' },
  { label: 'Forecast', value: 'forecast', description: 'Anomaly plus future points with a prediction interval and breach ETA' },
  { label: 'Exported', value: 'exported', description: "The exporter's published kizashi_* series for a query name" },
  { label: 'Incidents', value: 'incidents', description: "kizashi-webhook's incidents, as a table and as annotations" },
];

export type Mode = 'auto' | 'on' | 'off';

/**
 * Fields a query may keep (all when none is chosen): a series' observed frame (value to
 * deviation), its forecast frame and the breach ETA table. An alert rule keeps one number
 * field, e.g. score, forecast or breach eta.
 */
export const seriesFields = [
  'value',
  'baseline',
  'lower',
  'upper',
  'score',
  'reason',
  'deviation',
  'forecast',
  'forecast lower',
  'forecast upper',
  'breach eta',
] as const;
export type SeriesField = (typeof seriesFields)[number];

export interface KizashiQuery extends DataQuery {
  queryType?: QueryType;
  expr?: string;
  legendFormat?: string;
  /** Overrides Grafana's interval, e.g. "1m". */
  step?: string;
  sensitivity?: number;
  daily?: Mode;
  weekly?: Mode;
  trend?: Mode;
  /** IANA time zone whose days and weeks the seasonal profiles follow (default: the data source's, else UTC). */
  timezone?: string;
  /** Dates and ranges the weekly profiles read as Sundays (default: the data source's). */
  holidays?: string[];
  min?: number;
  /** History fetched before the panel range to warm the models up (default 7d, 14d for forecasts). */
  warmUp?: string;
  horizon?: string;
  /** How far ahead the threshold's breach is looked for (default 7d). */
  breachWithin?: string;
  threshold?: number;
  /** below: the threshold is an upper limit (default); above: a lower limit (free space). */
  breach?: 'below' | 'above';
  queryName?: string;
  fields?: SeriesField[];
}

export const defaultQuery: Partial<KizashiQuery> = {
  queryType: 'anomaly',
  expr: '',
};

/** jsonData: never secrets. The Prometheus URL is the data source URL. */
export interface KizashiOptions extends DataSourceJsonData {
  timeout?: number;
  authType?: 'none' | 'basic' | 'bearer';
  sensitivity?: number;
  daily?: Mode;
  weekly?: Mode;
  trend?: Mode;
  /** IANA time zone whose days and weeks the seasonal profiles follow, e.g. Europe/Berlin (default UTC). */
  timezone?: string;
  /** Dates (2026-05-04) and ranges (2026-12-29..2027-01-03) the weekly profiles read as Sundays. */
  holidays?: string[];
  warmUp?: string;
  horizon?: string;
  maxSeries?: number;
  maxPoints?: number;
  webhookUrl?: string;
  webhookTenant?: string;
}

/** secureJsonData: write-only secrets. */
export interface KizashiSecureJsonData {
  basicAuthPassword?: string;
  bearerToken?: string;
  webhookToken?: string;
  tlsCACert?: string;
  tlsClientCert?: string;
  tlsClientKey?: string;
}

/**
 * A comma-separated list as typed into an editor (holidays), kept as typed, a trailing comma
 * included, until it is saved; empty is no list. listText writes it back.
 */
export const listFromText = (s: string): string[] | undefined => (s === '' ? undefined : s.split(','));
export const listText = (l?: string[]): string => (l ?? []).join(',');
