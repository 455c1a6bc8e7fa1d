-- Acknowledged events: threshold, STALE and pushed-alert events have no host or service to
-- acknowledge, so this says who acknowledged the event itself (POST /api/v1/events.ack); it
-- stops the repeats and escalation of its notifications. It goes with its event.

CREATE TABLE event_acks (
    event_id bigint PRIMARY KEY REFERENCES events (id) ON DELETE CASCADE,
    author text NOT NULL,
    comment text NOT NULL DEFAULT '',
    at double precision NOT NULL
);
