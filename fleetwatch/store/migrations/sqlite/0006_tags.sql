-- Tags on systems and on hosts and services (the console filters by them, the list endpoints
-- accept them in queries): a JSON array of short strings, kept sorted and without repeats.

ALTER TABLE systems ADD COLUMN tags TEXT NOT NULL DEFAULT '[]';
ALTER TABLE check_objects ADD COLUMN tags TEXT NOT NULL DEFAULT '[]';
