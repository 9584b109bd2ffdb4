import type { Notification, NotifiedAlert } from '../../src/notify/types.js';

/** A notification for one alert; `over` overrides alert fields. */
export function notification(
  reason: Notification['reason'],
  over: Partial<NotifiedAlert> = {},
  id = `n-${reason}`,
): Notification {
  const alert: NotifiedAlert = {
    id: 'alert-1',
    fingerprint: 'fp-1',
    severity: 'critical',
    status: reason === 'resolved' ? 'resolved' : 'firing',
    title: 'High latency',
    message: 'p95 response time 950 ms > 500 ms',
    source: 'rule:high_latency',
    labels: { alertname: 'HighLatency', service: 'api' },
    annotations: { runbook: 'https://runbooks.example/latency' },
    startedAt: Date.now() - 60_000,
    ...(reason === 'resolved' ? { resolvedAt: Date.now() - 1000 } : {}),
    generatorUrl: 'http://127.0.0.1:8080/alerts/alert-1',
    ...over,
  };
  return { id, reason, alert, createdAt: Date.now() };
}
