/*
 * store-schema.c - the store's schema, as the ordered list of migrations that
 * build it.
 *
 * Why: the schema is only ever migrated forward. Migration N (1-based) turns
 * a schema-(N-1) database into a schema-N one; store.c runs each in its own
 * transaction together with `PRAGMA user_version = N`. A migration, once
 * released, is never edited: a change is a new entry appended at the end.
 * This file is pure data plus the accessors; it never runs SQL itself.
 */
#include <stddef.h>

#include "macro.h"
#include "store-private.h"

static const char *const migrations[] = {
    /* 1: labagent's application_id, meta and the event outbox. */
    "PRAGMA application_id = " LAB_STORE_APPLICATION_ID_SQL ";\n"
    "CREATE TABLE meta (\n"
    "        key TEXT PRIMARY KEY,\n"
    "        value TEXT NOT NULL\n"
    ");\n"
    "INSERT INTO meta (key, value) VALUES ('created_at', " LAB_SQL_NOW ");\n"
    "CREATE TABLE events (\n"
    "        seq INTEGER PRIMARY KEY AUTOINCREMENT,\n"
    "        uuid TEXT NOT NULL UNIQUE,\n"
    "        kind TEXT NOT NULL,\n"
    "        job_id TEXT,\n"
    "        body TEXT NOT NULL CHECK (json_valid(body)),\n"
    "        created_at TEXT NOT NULL DEFAULT (" LAB_SQL_NOW ")\n"
    ");\n",

    /* 2: the audit log of console and daemon actions; events by job. */
    "CREATE TABLE audit (\n"
    "        id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
    "        at TEXT NOT NULL DEFAULT (" LAB_SQL_NOW "),\n"
    "        actor TEXT NOT NULL,\n"
    "        action TEXT NOT NULL,\n"
    "        detail TEXT\n"
    ");\n"
    "CREATE INDEX events_job_id ON events (job_id);\n",

    /*
     * 3: the platform link. Events get a class (existing ones are job
     * events; telemetry may be shed, oldest first, through the partial
     * index). The jobs this lab accepted, with where each stands; state has
     * no CHECK so later states need no table rebuild; id is NOT NULL
     * because SQLite lets a TEXT PRIMARY KEY hold NULL otherwise.
     */
    "ALTER TABLE events ADD COLUMN class TEXT NOT NULL DEFAULT 'job'\n"
    "        CHECK (class IN ('job', 'telemetry'));\n"
    "CREATE INDEX events_telemetry ON events (seq) WHERE class = 'telemetry';\n"
    "CREATE TABLE jobs (\n"
    "        id TEXT NOT NULL PRIMARY KEY,\n"
    "        order_id TEXT NOT NULL,\n"
    "        sku TEXT NOT NULL,\n"
    "        quantity INTEGER NOT NULL CHECK (quantity BETWEEN 1 AND 1000),\n"
    "        priority TEXT NOT NULL DEFAULT 'standard',\n"
    "        deadline TEXT,\n"
    "        state TEXT NOT NULL,\n"
    "        reason TEXT,\n"
    "        detail TEXT,\n"
    "        asset_url TEXT NOT NULL,\n"
    "        asset_sha256 TEXT NOT NULL,\n"
    "        asset_bytes INTEGER NOT NULL,\n"
    "        asset_type TEXT,\n"
    "        asset_path TEXT,\n"
    "        download_attempts INTEGER NOT NULL DEFAULT 0,\n"
    "        spec TEXT NOT NULL CHECK (json_valid(spec)),\n"
    "        created_at TEXT NOT NULL DEFAULT (" LAB_SQL_NOW "),\n"
    "        updated_at TEXT NOT NULL DEFAULT (" LAB_SQL_NOW ")\n"
    ");\n"
    "CREATE INDEX jobs_state ON jobs (state);\n",

    /* 4: the audit record of every render, so a reprint reproduces the same bytes. */
    "CREATE TABLE renders (\n"
    "        id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
    "        job_id TEXT NOT NULL REFERENCES jobs (id),\n"
    "        printer TEXT NOT NULL,\n"
    "        output_path TEXT NOT NULL,\n"
    "        audit TEXT NOT NULL CHECK (json_valid(audit)),\n"
    "        created_at TEXT NOT NULL DEFAULT (" LAB_SQL_NOW ")\n"
    ");\n"
    "CREATE INDEX renders_job_id ON renders (job_id);\n",

    /*
     * 5: printing, one row per copy. The printer chosen for the job is kept
     * on the job before anything is sent; each copy counts its attempts,
     * and the attempt's key (job/copy/attempt) is the name the printer
     * knows it by, so it can be found again after a crash.
     */
    "ALTER TABLE jobs ADD COLUMN printer TEXT;\n"
    "CREATE TABLE copies (\n"
    "        job_id TEXT NOT NULL REFERENCES jobs (id),\n"
    "        copy INTEGER NOT NULL CHECK (copy >= 1),\n"
    "        state TEXT NOT NULL,\n"
    "        printer TEXT NOT NULL,\n"
    "        attempt INTEGER NOT NULL DEFAULT 0 CHECK (attempt >= 0),\n"
    "        handle TEXT,\n"
    "        reason TEXT,\n"
    "        detail TEXT,\n"
    "        updated_at TEXT NOT NULL DEFAULT (" LAB_SQL_NOW "),\n"
    "        PRIMARY KEY (job_id, copy)\n"
    ");\n"
    "CREATE INDEX copies_printer_state ON copies (printer, state);\n",

    /* 6: printers a technician paused from the console (labctl pause), kept across restarts. */
    "CREATE TABLE printer_pauses (\n"
    "        printer TEXT PRIMARY KEY,\n"
    "        paused_by TEXT NOT NULL,\n"
    "        reason TEXT,\n"
    "        since TEXT NOT NULL DEFAULT (" LAB_SQL_NOW ")\n"
    ");\n",

    /*
     * 7: offers rejected before a job row could exist (the offer itself is
     * unusable: bad_job), by the SHA-256 of the offer's canonical JSON, so a
     * repeated offer is reported once; job_id is the id as offered (any
     * text, or NULL when it had none), kept as data for people.
     */
    "CREATE TABLE rejected_offers (\n"
    "        digest TEXT NOT NULL PRIMARY KEY CHECK (length(digest) = 64),\n"
    "        job_id TEXT,\n"
    "        reason TEXT NOT NULL,\n"
    "        field TEXT,\n"
    "        detail TEXT,\n"
    "        created_at TEXT NOT NULL DEFAULT (" LAB_SQL_NOW ")\n"
    ");\n"
    "CREATE INDEX rejected_offers_created_at ON rejected_offers (created_at);\n",

    /*
     * 8: stock (agent/stock/stock.h). One row per item of a printer: what it
     * reports, what the config declares, what technicians record; state is
     * the judged one, told the one last told upstream (stock.low/out/ok).
     * The consumption ledger has one row per item a printed copy used, keyed
     * by the copy's attempt and written in the transaction that marks the
     * copy printed: a crash can neither count a print twice nor lose one.
     * printer_tally dates what printer.quality counts (printed, defect,
     * aborted, fault), kept 8 days.
     */
    "CREATE TABLE stock_items (\n"
    "        printer TEXT NOT NULL,\n"
    "        item TEXT NOT NULL,\n"
    "        kind TEXT NOT NULL,\n"
    "        media TEXT NOT NULL DEFAULT '',\n"
    "        source TEXT NOT NULL,\n"
    "        remaining REAL CHECK (remaining IS NULL OR remaining >= 0),\n"
    "        unit TEXT NOT NULL,\n"
    "        capacity REAL,\n"
    "        level INTEGER,\n"
    "        threshold REAL NOT NULL DEFAULT 0,\n"
    "        state TEXT NOT NULL DEFAULT 'unknown',\n"
    "        told TEXT NOT NULL DEFAULT 'unknown',\n"
    "        as_of INTEGER,\n"
    "        drift REAL,\n"
    "        updated_at TEXT NOT NULL DEFAULT (" LAB_SQL_NOW "),\n"
    "        PRIMARY KEY (printer, item)\n"
    ");\n"
    "CREATE TABLE stock_ledger (\n"
    "        job_id TEXT NOT NULL,\n"
    "        copy INTEGER NOT NULL,\n"
    "        attempt INTEGER NOT NULL,\n"
    "        item TEXT NOT NULL,\n"
    "        printer TEXT NOT NULL,\n"
    "        amount REAL NOT NULL CHECK (amount > 0),\n"
    "        created_at TEXT NOT NULL DEFAULT (" LAB_SQL_NOW "),\n"
    "        PRIMARY KEY (job_id, copy, attempt, item)\n"
    ");\n"
    "CREATE TABLE printer_tally (\n"
    "        id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
    "        printer TEXT NOT NULL,\n"
    "        what TEXT NOT NULL CHECK (what IN ('printed', 'defect', 'aborted', 'fault')),\n"
    "        detail TEXT,\n"
    "        at INTEGER NOT NULL\n"
    ");\n"
    "CREATE INDEX printer_tally_printer_at ON printer_tally (printer, at);\n",

    /*
     * 9: energy (agent/energy, issue 17). energy_printers says which meter
     * a printer is on (the config's meters[].printers, declared at start and
     * reload). energy_meters keeps what a restart needs (saved_wh: the last
     * good reading's cumulative energy, lab_energy_counter_saved) and what
     * people see (state, the fault, power). energy_intervals has one row per
     * closed interval, wall times in unix µs (for reports; durations are
     * measured on the monotonic clock), whole mWh. energy_prints has one row
     * per copy printed on a metered printer, written in the transaction that
     * marks the copy printed and keyed by its attempt; an interval's close
     * takes the open ones (interval_id NULL) with their shares in the same
     * transaction as the interval and the new saved_wh, so a crash can
     * neither count an interval twice nor lose a print's share.
     */
    "CREATE TABLE energy_printers (\n"
    "        printer TEXT NOT NULL PRIMARY KEY,\n"
    "        meter TEXT NOT NULL\n"
    ");\n"
    "CREATE TABLE energy_meters (\n"
    "        name TEXT NOT NULL PRIMARY KEY,\n"
    "        saved_wh REAL,\n"
    "        counted_mwh INTEGER NOT NULL DEFAULT 0 CHECK (counted_mwh >= 0),\n"
    "        power_w REAL,\n"
    "        state TEXT NOT NULL DEFAULT 'unknown' CHECK (state IN ('unknown', 'ok', 'fault')),\n"
    "        reason TEXT,\n"
    "        detail TEXT,\n"
    "        fault_since INTEGER,\n"
    "        last_ok_at INTEGER,\n"
    "        last_error TEXT,\n"
    "        last_error_at INTEGER\n"
    ");\n"
    "CREATE TABLE energy_intervals (\n"
    "        id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
    "        meter TEXT NOT NULL,\n"
    "        from_at INTEGER NOT NULL,\n"
    "        to_at INTEGER NOT NULL,\n"
    "        energy_mwh INTEGER NOT NULL CHECK (energy_mwh >= 0),\n"
    "        idle_mwh INTEGER NOT NULL CHECK (idle_mwh BETWEEN 0 AND energy_mwh),\n"
    "        prints INTEGER NOT NULL CHECK (prints >= 0),\n"
    "        total_wh REAL NOT NULL,\n"
    "        power_w REAL,\n"
    "        quality TEXT NOT NULL CHECK (quality IN ('ok', 'gap', 'meter_reset')),\n"
    "        reported INTEGER NOT NULL DEFAULT 0\n"
    ");\n"
    "CREATE INDEX energy_intervals_meter_to ON energy_intervals (meter, to_at);\n"
    "CREATE INDEX energy_intervals_unreported ON energy_intervals (meter) WHERE reported = 0;\n"
    "CREATE TABLE energy_prints (\n"
    "        job_id TEXT NOT NULL,\n"
    "        copy INTEGER NOT NULL,\n"
    "        attempt INTEGER NOT NULL,\n"
    "        printer TEXT NOT NULL,\n"
    "        meter TEXT NOT NULL,\n"
    "        sku TEXT NOT NULL,\n"
    "        interval_id INTEGER,\n"
    "        mwh INTEGER CHECK (mwh IS NULL OR mwh >= 0),\n"
    "        reported INTEGER NOT NULL DEFAULT 0,\n"
    "        PRIMARY KEY (job_id, copy, attempt)\n"
    ");\n"
    "CREATE INDEX energy_prints_open ON energy_prints (meter) WHERE interval_id IS NULL;\n"
    "CREATE INDEX energy_prints_unreported ON energy_prints (job_id) WHERE reported = 0;\n"
    "CREATE INDEX energy_prints_interval ON energy_prints (interval_id);\n",
};

/* The schema version this build writes: the number of migrations. */
int lab_store_schema_latest(void)
{
        return (int)ELEMENTSOF(migrations);
}

/* The script of migration version (1..latest), or NULL when there is none. */
const char *lab_store_migration_sql(int version)
{
        if (version < 1 || version > lab_store_schema_latest())
                return NULL;
        return migrations[version - 1];
}
