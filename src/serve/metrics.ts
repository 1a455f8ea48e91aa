import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ResultsReader } from '../store/resultsReader.js';

/**
 * The server's Prometheus metrics, in a registry of its own (so two apps in one process, as in
 * the tests, do not share counters). Run figures are read from the store at scrape time.
 */
export class ServerMetrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'method' | 'route' | 'status'>;
  private readonly duration: Histogram<'method' | 'route'>;

  constructor(reader: ResultsReader) {
    this.requests = new Counter({
      name: 'playtally_http_requests_total',
      help: 'HTTP requests answered, by method, route pattern and status code',
      labelNames: ['method', 'route', 'status'],
      registers: [this.registry],
    });
    this.duration = new Histogram({
      name: 'playtally_http_request_duration_seconds',
      help: 'Time to answer an HTTP request, by method and route pattern',
      labelNames: ['method', 'route'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers: [this.registry],
    });
    const lastRun = (): ReturnType<ResultsReader['lastRun']> => reader.lastRun();
    new Gauge({
      name: 'playtally_last_run_timestamp_seconds',
      help: 'When the newest stored run finished (Unix time); absent before the first run',
      registers: [this.registry],
      collect() {
        const run = lastRun();
        // remove(): absent, not 0 ("last run failed in 1970"), while no run is stored.
        if (run) this.set(Date.parse(run.finishedAt) / 1000);
        else this.remove();
      },
    });
    new Gauge({
      name: 'playtally_last_run_rows',
      help: 'Log rows read by the newest stored run',
      registers: [this.registry],
      collect() {
        const run = lastRun();
        if (run) this.set(run.rows);
        else this.remove();
      },
    });
    new Gauge({
      name: 'playtally_last_run_ok',
      help: '1 when the newest stored run succeeded, 0 when it failed',
      registers: [this.registry],
      collect() {
        const run = lastRun();
        if (run) this.set(run.ok ? 1 : 0);
        else this.remove();
      },
    });
    new Gauge({
      name: 'playtally_latest_chart_date_timestamp_seconds',
      help: 'The newest chart date in the store (Unix time of its midnight UTC)',
      registers: [this.registry],
      collect() {
        const date = reader.latestChartDate();
        if (date) this.set(Date.parse(`${date}T00:00:00Z`) / 1000);
        else this.remove();
      },
    });
  }

  observe(method: string, route: string, status: number, seconds: number): void {
    this.requests.inc({ method, route, status: String(status) });
    this.duration.observe({ method, route }, seconds);
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  contentType(): string {
    return this.registry.contentType;
  }
}
