-- Acknowledged events: threshold, STALE and pushed-alert events have no host or service to
-- acknowledge, so this says who acknowledged the event itself (POST /api/v1/events.ack); it
-- stops the repeats and escalation of its notifications. It goes with its event.

CREATE TABLE event_acks (
    event_id INTEGER PRIMARY KEY REFERENCES events (id) ON DELETE CASCADE,
    author TEXT NOT NULL,
    comment TEXT NOT NULL DEFAULT '',
    at REAL NOT NULL
);
