"""Retry policies for the steps that fail for reasons that go away on their own.

Retried:
- ingest (`raw/*`): reads the landing folder, which may be network storage, and opens the
  DuckDB file for writing, which fails while another process holds it. Loading replaces the
  day's partition in one transaction, so a retry is safe. Data problems (a missing export,
  a file that cannot be read) raise `Failure(allow_retries=False)`: they do not go away.
- dbt build: a subprocess that loses the DuckDB lock or its PostgreSQL connection; models
  replace the run date's rows, so a rebuild is safe. One retry only: a failing data test is
  deterministic, and rebuilding it again at full scale would only delay the failure alert.

Not retried, on purpose:
- delivery (`campaign_sends`): the sender already retries 429, 5xx and timeouts with
  backoff, honouring Retry-After, until each message's send window closes; what escapes
  it (a rejected API key, a host where nothing listens) needs a person. The ledger would
  make a retry duplicate-free, but hammering a provider that refuses us can get an
  account throttled or suspended.
- scoring, interventions, measurement, quality: deterministic computations over the
  warehouse; a retry fails the same way and, for training, costs minutes.

Jitter spreads retries of runs that failed together (e.g. on the same lock) apart.
"""

import dagster as dg

LANDING_READ_RETRY = dg.RetryPolicy(
    max_retries=3, delay=15, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
)
DBT_BUILD_RETRY = dg.RetryPolicy(
    max_retries=1, delay=60, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
)
