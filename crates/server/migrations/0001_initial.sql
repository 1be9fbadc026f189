-- ivory's tables. The same SQL runs on SQLite and PostgreSQL: only BIGINT and TEXT columns,
-- no auto-increment (keys are ids ivory or the client chose), times as milliseconds since the
-- Unix epoch (UTC), booleans as 0/1, JSON as TEXT.

CREATE TABLE scenarios (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    description TEXT,
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX scenarios_by_name ON scenarios (name);

CREATE TABLE launches (
    bulk_id TEXT PRIMARY KEY,
    request TEXT NOT NULL,
    accepted_at BIGINT NOT NULL
);

-- One row per destination: the dialer's durable state machine.
CREATE TABLE destinations (
    message_id TEXT PRIMARY KEY,
    bulk_id TEXT NOT NULL,
    launch_key TEXT NOT NULL,
    to_number TEXT NOT NULL,
    from_number TEXT,
    scenario_id TEXT,
    state TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    lease_owner TEXT,
    lease_until BIGINT,
    policy TEXT NOT NULL,
    call_options TEXT NOT NULL,
    parameters TEXT NOT NULL,
    callback_data TEXT,
    notify_url TEXT,
    notify_content_type TEXT,
    final_reason TEXT,
    accepted_at BIGINT NOT NULL,
    done_at BIGINT,
    updated_at BIGINT NOT NULL
);
CREATE INDEX destinations_due ON destinations (state, next_attempt_at);
CREATE INDEX destinations_by_bulk ON destinations (bulk_id);
CREATE INDEX destinations_by_scenario ON destinations (scenario_id, state);

CREATE TABLE attempts (
    message_id TEXT NOT NULL,
    number BIGINT NOT NULL,
    node TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    answered_at BIGINT,
    ended_at BIGINT,
    outcome TEXT,
    sip_code BIGINT,
    call_id TEXT,
    PRIMARY KEY (message_id, number)
);

-- The v2 delivery report of each final destination; `pulled` once GET /reports returned it.
CREATE TABLE reports (
    message_id TEXT PRIMARY KEY,
    bulk_id TEXT NOT NULL,
    body TEXT NOT NULL,
    pulled BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX reports_unpulled ON reports (pulled, created_at);

-- Webhook deliveries still owed, with the body already rendered in its content type.
CREATE TABLE outbox (
    report_id TEXT PRIMARY KEY,
    notify_url TEXT NOT NULL,
    content_type TEXT NOT NULL,
    body TEXT NOT NULL,
    next_try_at BIGINT NOT NULL,
    tries BIGINT NOT NULL,
    last_error TEXT,
    lease_until BIGINT,
    delivered_at BIGINT,
    abandoned_at BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX outbox_due ON outbox (delivered_at, next_try_at);

CREATE TABLE call_logs (
    call_id TEXT PRIMARY KEY,
    direction TEXT NOT NULL,
    message_id TEXT,
    from_number TEXT,
    to_number TEXT,
    started_at BIGINT NOT NULL,
    record TEXT NOT NULL
);
CREATE INDEX call_logs_by_start ON call_logs (started_at);

CREATE TABLE recordings (
    file TEXT PRIMARY KEY,
    identifier TEXT NOT NULL,
    call_id TEXT NOT NULL,
    message_id TEXT,
    kind TEXT NOT NULL,
    duration_ms BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX recordings_by_identifier ON recordings (identifier);
CREATE INDEX recordings_by_call ON recordings (call_id);
