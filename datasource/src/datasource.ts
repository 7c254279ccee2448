import { CoreApp, DataSourceInstanceSettings, ScopedVars } from '@grafana/data';
import { DataSourceWithBackend, getTemplateSrv } from '@grafana/runtime';

import { defaultQuery, KizashiOptions, KizashiQuery } from './types';

export class DataSource extends DataSourceWithBackend<KizashiQuery, KizashiOptions> {
  constructor(instanceSettings: DataSourceInstanceSettings<KizashiOptions>) {
    super(instanceSettings);
    // Incidents queries return time/timeEnd/title/text/tags: Grafana turns them into annotations.
    this.annotations = {};
  }

  getDefaultQuery(_: CoreApp): Partial<KizashiQuery> {
    return defaultQuery;
  }

  filterQuery(query: KizashiQuery): boolean {
    switch (query.queryType ?? 'anomaly') {
      case 'incidents':
        return true;
      case 'exported':
        return !!query.queryName;
      default:
        return !!query.expr;
    }
  }

  applyTemplateVariables(query: KizashiQuery, scopedVars: ScopedVars): KizashiQuery {
    const t = getTemplateSrv();
    return {
      ...query,
      expr: query.expr ? t.replace(query.expr, scopedVars) : query.expr,
      queryName: query.queryName ? t.replace(query.queryName, scopedVars) : query.queryName,
      legendFormat: query.legendFormat,
    };
  }

  /** Metric names for the query editor. */
  metricNames(): Promise<string[]> {
    return this.getResource<string[]>('metrics');
  }

  /** Label names of the series matching a selector (all if empty). */
  labelNames(match?: string): Promise<string[]> {
    return this.getResource<string[]>('labels', match ? { 'match[]': match } : undefined);
  }

  /** Values of a label. */
  labelValues(label: string, match?: string): Promise<string[]> {
    return this.getResource<string[]>('label-values', match ? { label, 'match[]': match } : { label });
  }

  /** Query names the exporter publishes. */
  exportedQueryNames(): Promise<string[]> {
    return this.getResource<string[]>('queries');
  }
}
