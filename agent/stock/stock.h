/*
 * stock.h - the lab's stock: what an item is, when it is low, what a print uses (pure).
 *
 * Why: the platform routes orders between labs by what each lab can print
 * now, and the agent is the only source of the figures. Stock comes from
 * three places: what a printer reports (its supplies and input trays, source
 * printer), what the agent counts from what it printed against a load
 * declared in the config (printers[].consumables with uses, source counted),
 * and what technicians record (consumables without uses, source technician).
 * This module holds the rules that turn those figures into states and
 * events, the same for all three; it does no I/O, no logging and reads no
 * clock, so every rule is unit-tested (tests/unit/test-stock.c).
 *
 * The rules (docs/protocol.md, "Stock"):
 *   - An item is out at 0, low at or below its threshold, else ok; unknown
 *     when no figure is known (a level of -2 or -3, a Gutenprint message
 *     without a count). Unknown is never told and changes nothing told.
 *   - Hysteresis: an item told low or out is ok again only at threshold +
 *     stock.hysteresis percent of its capacity (percent points for a level),
 *     or at once after a technician's load.
 *   - stock.low / stock.out / stock.ok are told when the judged state
 *     differs from the one last told; a first ok is recorded, not told.
 *   - stock.level is due when some item moved by stock.min_change_percent
 *     points or stock.min_change_units units, or changed state, or the set
 *     of items changed; the caller adds the report_interval.
 *   - At most stock.max_events_per_hour state events per printer in any
 *     hour (lab_stock_rate_take); the excess is counted by the caller.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "printer.h"

typedef enum lab_stock_source_e {
        LAB_STOCK_SOURCE_PRINTER,    /* the printer reports it (supplies, input trays) */
        LAB_STOCK_SOURCE_COUNTED,    /* the agent counts it: a declared load less what it printed */
        LAB_STOCK_SOURCE_TECHNICIAN, /* declared without uses: what technicians record */
} lab_stock_source_t;

typedef enum lab_stock_state_e {
        LAB_STOCK_OK,
        LAB_STOCK_LOW,
        LAB_STOCK_OUT,
        LAB_STOCK_UNKNOWN, /* no figure; as told: never told */
} lab_stock_state_t;

typedef enum lab_stock_action_e {
        LAB_STOCK_LOAD,   /* a new roll or box put in: remaining = amount, ok again at once */
        LAB_STOCK_SET,    /* a count: remaining = amount */
        LAB_STOCK_ADD,    /* remaining += amount */
        LAB_STOCK_REMOVE, /* remaining -= amount; never below zero */
} lab_stock_action_t;

#define LAB_STOCK_ITEM_MAX 129 /* an item's name: a supply's description (127) or an id (128) */

/* One stock item of one printer. */
typedef struct lab_stock_item_s {
        char printer[LAB_STOCK_ITEM_MAX];
        char item[LAB_STOCK_ITEM_MAX]; /* the consumable's name, the supply's or tray's name */
        lab_stock_kind_t kind;
        char media[64]; /* the media it is for (PWG name or the printer's), "" unknown */
        lab_stock_source_t source;
        double remaining; /* in unit, < 0 unknown */
        lab_stock_unit_t unit;
        double capacity;         /* a full load in unit, <= 0 unknown */
        int level;               /* percent of capacity, -1 unknown */
        double threshold;        /* low at or below this, in unit */
        lab_stock_state_t state; /* judged from the figures (lab_stock_judge) */
        lab_stock_state_t told;  /* as last told (stock.low/out/ok); UNKNOWN: never */
        int64_t as_of;           /* CLOCK_REALTIME s the figure is true of, 0 unknown */
        bool has_drift;
        double drift; /* counted item a printer counts too: the agent's count less the printer's */
} lab_stock_item_t;

/* One use of a print: so much of an item (lab_stock_uses). */
typedef struct lab_stock_use_s {
        const char *item; /* points into the config */
        double amount;
} lab_stock_use_t;

/* The rate limit of state events of one printer: the times of the last ones. Zero it. */
#define LAB_STOCK_RATE_MAX 64
typedef struct lab_stock_rate_s {
        int64_t at[LAB_STOCK_RATE_MAX];
        size_t n;
} lab_stock_rate_t;

/* Keywords: "printer", "counted", "technician"; "ok", "low", "out", "unknown"; "load", ...;
   "paper", "ribbon", "ink", "toner", "packaging", "other"; "prints", "sheets", "metres",
   "percent". NULL (to) or -1 (from) for what is none of them. */
const char *lab_stock_source_to_string(lab_stock_source_t s);
int lab_stock_source_from_string(const char *s);
const char *lab_stock_state_to_string(lab_stock_state_t s);
int lab_stock_state_from_string(const char *s);
const char *lab_stock_action_to_string(lab_stock_action_t a);
int lab_stock_action_from_string(const char *s);
const char *lab_stock_kind_to_string(lab_stock_kind_t k);
int lab_stock_kind_from_string(const char *s);
const char *lab_stock_unit_to_string(lab_stock_unit_t u);
int lab_stock_unit_from_string(const char *s);

/*
 * The items a status read reports (supplies but waste receptacles, then
 * input trays), at most max: supplies as of now less the status's
 * supplies_age (marker-change-time dates the markers), trays as of now.
 * A supply with a count (Gutenprint's prints) is counted in prints, its
 * capacity from count and level when both are known; one with a level alone
 * is in percent (capacity 100); a tray in its own unit (sheets). The
 * threshold is the printer's marker-low-levels where it gives one, else
 * low_percent of the capacity. Nothing unknown becomes a number.
 */
size_t lab_stock_from_status(const char *printer, const lab_printer_status_t *st, int64_t now,
                             unsigned low_percent, lab_stock_item_t *out, size_t max);

/* A declared consumable as an item (figures unknown until a technician loads it). */
void lab_stock_declared(const char *printer, const lab_config_consumable_t *c, unsigned low_percent,
                        lab_stock_item_t *out);

/*
 * The state of it by its figures, given it->told: out at 0, low at or below
 * the threshold, and low still below threshold + hysteresis percent of the
 * capacity (points of level without one) once told low or out, unless
 * loaded (a technician's load: ok at once above the threshold).
 */
lab_stock_state_t lab_stock_judge(const lab_stock_item_t *it, unsigned hysteresis, bool loaded);

/*
 * The state event to tell for an item now judged `judged` that was last told
 * `told`: "stock.low", "stock.out", "stock.ok", or NULL (nothing: the same,
 * unknown, or a first ok). *ret_record says whether told should become
 * judged (also for a first ok, which is recorded silently).
 */
const char *lab_stock_event_of(lab_stock_state_t told, lab_stock_state_t judged, bool *ret_record);

/*
 * Whether the items now differ enough from the ones last sent in a
 * stock.level to send another: a different set of items, a changed state,
 * a level moved by min_change_percent points, or a remaining moved by
 * min_change_units units (min_change_percent points for percent), or a
 * figure that became known or unknown.
 */
bool lab_stock_moved(const lab_stock_item_t *sent, size_t n_sent, const lab_stock_item_t *now,
                     size_t n_now, unsigned min_change_percent, double min_change_units);

/* Take one event from the printer's hourly budget: false when max_per_hour were taken in
   the hour before now (s); max_per_hour above LAB_STOCK_RATE_MAX counts as that. */
bool lab_stock_rate_take(lab_stock_rate_t *r, int64_t now, unsigned max_per_hour);

/*
 * What one print of media on cp uses: each consumable whose uses name media,
 * at most max; returns how many. Amounts are the config's numbers.
 */
size_t lab_stock_uses(const lab_config_printer_t *cp, const char *media, lab_stock_use_t *out,
                      size_t max);

/*
 * Apply a technician's action to remaining (< 0: unknown, read as 0 for
 * add and remove): 0 with *ret; -ERANGE when the result would be below zero
 * (remove more than there is) or amount is negative or not finite; load and
 * set take the amount as it is.
 */
int lab_stock_apply(lab_stock_action_t a, double remaining, double amount, double *ret);

/* The body of stock.low / stock.out / stock.ok for it: {printer, item, remaining, unit,
   threshold, source} (malloc'd JSON), or NULL. */
char *lab_stock_state_body(const lab_stock_item_t *it);
