/*
 * test-stock.c - the stock rules of agent/stock/stock.c (issue 16): items from
 * a status read, states with threshold and hysteresis, which change is told,
 * when a stock.level is due, the hourly budget of state events, what a print
 * uses, what a technician's entry leaves, and the state events' body.
 *
 * Why: the platform routes orders by these figures and these events. A rule
 * off by one flaps stock.low every read, turns "unknown" into an empty
 * printer, or lets a count go below zero; each case here is the exact input
 * and the exact result the rule must give. Pure: no store, no clock.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "stock.h"

#define NOW 1700000000 /* CLOCK_REALTIME s: any fixed time */

/* Assert a figure (double) equals want exactly (every figure here is a small binary fraction). */
static void assert_figure(double got, double want)
{
        if (!(got == want))
                fail_msg("figure %g, want %g", got, want);
}

/* A supply as a driver reads it: nothing known but name, type and kind. */
static lab_supply_t supply(const char *name, const char *type, lab_supply_kind_t kind)
{
        lab_supply_t sp = {
            .level = -1,
            .remaining = -1,
            .kind = kind,
            .amount = -1,
            .capacity = -1,
            .low = -1,
            .high = -1,
        };

        snprintf(sp.name, sizeof sp.name, "%s", name);
        snprintf(sp.type, sizeof sp.type, "%s", type);
        return sp;
}

/* A status read with no supplies, no trays, supplies_age unknown. */
static lab_printer_status_t status(void)
{
        return (lab_printer_status_t){.state = LAB_PRINTER_IDLE, .supplies_age = -1};
}

/* A printer item in percent (capacity 100, threshold 15), last told `told`. */
static lab_stock_item_t percent_item(const char *name, double remaining, lab_stock_state_t told)
{
        lab_stock_item_t it = {
            .source = LAB_STOCK_SOURCE_PRINTER,
            .remaining = remaining,
            .unit = LAB_STOCK_UNIT_PERCENT,
            .capacity = 100,
            .level = remaining >= 0 ? (int)remaining : -1,
            .threshold = 15,
            .state = LAB_STOCK_UNKNOWN,
            .told = told,
        };

        snprintf(it.printer, sizeof it.printer, "ds620");
        snprintf(it.item, sizeof it.item, "%s", name);
        return it;
}

/* ---- names ---- */

static void test_names_round_trip(void **state)
{
        (void)state;
        for (int v = LAB_STOCK_SOURCE_PRINTER; v <= LAB_STOCK_SOURCE_TECHNICIAN; v++) {
                const char *n = lab_stock_source_to_string((lab_stock_source_t)v);

                assert_non_null(n);
                assert_int_equal(lab_stock_source_from_string(n), v);
        }
        for (int v = LAB_STOCK_OK; v <= LAB_STOCK_UNKNOWN; v++) {
                const char *n = lab_stock_state_to_string((lab_stock_state_t)v);

                assert_non_null(n);
                assert_int_equal(lab_stock_state_from_string(n), v);
        }
        for (int v = LAB_STOCK_LOAD; v <= LAB_STOCK_REMOVE; v++) {
                const char *n = lab_stock_action_to_string((lab_stock_action_t)v);

                assert_non_null(n);
                assert_int_equal(lab_stock_action_from_string(n), v);
        }
        for (int v = LAB_STOCK_KIND_PAPER; v <= LAB_STOCK_KIND_OTHER; v++) {
                const char *n = lab_stock_kind_to_string((lab_stock_kind_t)v);

                assert_non_null(n);
                assert_int_equal(lab_stock_kind_from_string(n), v);
        }
        for (int v = LAB_STOCK_UNIT_PRINTS; v <= LAB_STOCK_UNIT_PERCENT; v++) {
                const char *n = lab_stock_unit_to_string((lab_stock_unit_t)v);

                assert_non_null(n);
                assert_int_equal(lab_stock_unit_from_string(n), v);
        }
        /* The documented keywords, spelled out. */
        assert_string_equal(lab_stock_source_to_string(LAB_STOCK_SOURCE_COUNTED), "counted");
        assert_string_equal(lab_stock_state_to_string(LAB_STOCK_UNKNOWN), "unknown");
        assert_string_equal(lab_stock_action_to_string(LAB_STOCK_REMOVE), "remove");
        assert_string_equal(lab_stock_kind_to_string(LAB_STOCK_KIND_PACKAGING), "packaging");
        assert_string_equal(lab_stock_unit_to_string(LAB_STOCK_UNIT_METRES), "metres");
        /* None of them: NULL one way, -1 the other. */
        assert_null(lab_stock_source_to_string((lab_stock_source_t)3));
        assert_null(lab_stock_state_to_string((lab_stock_state_t)4));
        assert_null(lab_stock_state_to_string((lab_stock_state_t)-1));
        assert_null(lab_stock_action_to_string((lab_stock_action_t)4));
        assert_null(lab_stock_kind_to_string((lab_stock_kind_t)6));
        assert_null(lab_stock_unit_to_string((lab_stock_unit_t)4));
        assert_int_equal(lab_stock_state_from_string("Low"), -1);
        assert_int_equal(lab_stock_state_from_string(""), -1);
        assert_int_equal(lab_stock_state_from_string(NULL), -1);
        assert_int_equal(lab_stock_unit_from_string("meters"), -1);
        assert_int_equal(lab_stock_source_from_string(NULL), -1);
}

/* ---- from_status ---- */

static void test_from_status_gutenprint_count(void **state)
{
        lab_printer_status_t st = status();
        lab_stock_item_t out[4];
        lab_supply_t *sp = &st.supplies[0];

        (void)state;
        /* "40 native prints remaining on 6x4 (PC) media", marker-levels 10. */
        *sp = supply("6x4 (PC)", "ribbonWax", LAB_SUPPLY_RIBBON);
        sp->level = 10;
        sp->remaining = 40;
        snprintf(sp->media, sizeof sp->media, "6x4 (PC)");
        st.n_supplies = 1;

        assert_int_equal(lab_stock_from_status("ds620", &st, NOW, 15, out, 4), 1);
        assert_string_equal(out[0].printer, "ds620");
        assert_string_equal(out[0].item, "6x4 (PC)");
        assert_string_equal(out[0].media, "6x4 (PC)");
        assert_int_equal(out[0].kind, LAB_STOCK_KIND_RIBBON);
        assert_int_equal(out[0].source, LAB_STOCK_SOURCE_PRINTER);
        assert_int_equal(out[0].unit, LAB_STOCK_UNIT_PRINTS);
        assert_figure(out[0].remaining, 40);
        assert_figure(out[0].capacity, 400);
        assert_int_equal(out[0].level, 10);
        assert_figure(out[0].threshold, 60); /* 15 % of 400 */
        assert_int_equal(out[0].state, LAB_STOCK_LOW);
        assert_int_equal(out[0].told, LAB_STOCK_UNKNOWN); /* a read tells nothing itself */
        assert_int_equal(out[0].as_of, NOW);
        assert_false(out[0].has_drift);
}

static void test_from_status_percent_only(void **state)
{
        lab_printer_status_t st = status();
        lab_stock_item_t out[4];

        (void)state;
        st.supplies[0] = supply("4x6 ribbon", "ribbonWax", LAB_SUPPLY_RIBBON);
        st.supplies[0].level = 80;
        st.n_supplies = 1;

        assert_int_equal(lab_stock_from_status("ds620", &st, NOW, 15, out, 4), 1);
        assert_int_equal(out[0].unit, LAB_STOCK_UNIT_PERCENT);
        assert_figure(out[0].capacity, 100);
        assert_figure(out[0].remaining, 80);
        assert_int_equal(out[0].level, 80);
        assert_figure(out[0].threshold, 15);
        assert_int_equal(out[0].state, LAB_STOCK_OK);
}

static void test_from_status_unknown_is_never_zero(void **state)
{
        lab_printer_status_t st = status();
        lab_stock_item_t out[4];

        (void)state;
        /* RFC 3805 -2: level and remaining unknown. */
        st.supplies[0] = supply("ribbon A", "ribbonWax", LAB_SUPPLY_RIBBON);
        /* -3 (Gutenprint "One or more remaining prints"): some left, still no figure. */
        st.supplies[1] = supply("ribbon B", "ribbonWax", LAB_SUPPLY_RIBBON);
        st.supplies[1].some_left = true;
        st.n_supplies = 2;

        assert_int_equal(lab_stock_from_status("ds620", &st, NOW, 15, out, 4), 2);
        for (size_t i = 0; i < 2; i++) {
                assert_true(out[i].remaining < 0);
                assert_int_equal(out[i].level, -1);
                assert_int_equal(out[i].state, LAB_STOCK_UNKNOWN);
                assert_int_equal(lab_stock_judge(&out[i], 5, false), LAB_STOCK_UNKNOWN);
        }
}

static void test_from_status_skips_waste(void **state)
{
        lab_printer_status_t st = status();
        lab_stock_item_t out[4];

        (void)state;
        st.supplies[0] = supply("Waste Ink", "wasteInk", LAB_SUPPLY_WASTE);
        st.supplies[0].level = 90;
        st.supplies[1] = supply("Black", "toner", LAB_SUPPLY_TONER);
        st.supplies[1].level = 50;
        st.supplies[2] = supply("Fuser", "fuser", LAB_SUPPLY_OTHER);
        st.supplies[2].level = 70;
        st.n_supplies = 3;

        assert_int_equal(lab_stock_from_status("laser", &st, NOW, 15, out, 4), 2);
        assert_string_equal(out[0].item, "Black");
        assert_int_equal(out[0].kind, LAB_STOCK_KIND_TONER);
        assert_string_equal(out[1].item, "Fuser");
        assert_int_equal(out[1].kind, LAB_STOCK_KIND_OTHER);
}

static void test_from_status_marker_low_levels(void **state)
{
        lab_printer_status_t st = status();
        lab_stock_item_t out[4];

        (void)state;
        /* The same deck as above, but the printer says it is low at 20 %. */
        st.supplies[0] = supply("6x4 (PC)", "ribbonWax", LAB_SUPPLY_RIBBON);
        st.supplies[0].level = 10;
        st.supplies[0].remaining = 40;
        st.supplies[0].low = 20;
        /* A percent supply low at 30 %, level 25: low by the printer, ok by low_percent. */
        st.supplies[1] = supply("Cyan", "ink", LAB_SUPPLY_INK);
        st.supplies[1].level = 25;
        st.supplies[1].low = 30;
        st.n_supplies = 2;

        assert_int_equal(lab_stock_from_status("ds620", &st, NOW, 15, out, 4), 2);
        assert_figure(out[0].threshold, 80); /* 20 % of 400, not 15 % */
        assert_figure(out[1].threshold, 30);
        assert_int_equal(out[1].state, LAB_STOCK_LOW);
        assert_int_equal(out[1].kind, LAB_STOCK_KIND_INK);
}

static void test_from_status_tray(void **state)
{
        lab_printer_status_t st = status();
        lab_stock_item_t out[4];

        (void)state;
        st.trays[0] = supply("main", "", LAB_SUPPLY_PAPER);
        st.trays[0].amount = 10;
        st.trays[0].capacity = 250;
        snprintf(st.trays[0].unit, sizeof st.trays[0].unit, "sheets");
        snprintf(st.trays[0].media, sizeof st.trays[0].media, "na_index-4x6_4x6in");
        st.n_trays = 1;
        /* A supply first: trays come after supplies. */
        st.supplies[0] = supply("ribbon", "ribbonWax", LAB_SUPPLY_RIBBON);
        st.supplies[0].level = 50;
        st.n_supplies = 1;

        assert_int_equal(lab_stock_from_status("pappl", &st, NOW, 15, out, 4), 2);
        assert_string_equal(out[1].item, "main");
        assert_int_equal(out[1].kind, LAB_STOCK_KIND_PAPER);
        assert_int_equal(out[1].unit, LAB_STOCK_UNIT_SHEETS);
        assert_int_equal(out[1].source, LAB_STOCK_SOURCE_PRINTER);
        assert_figure(out[1].remaining, 10);
        assert_figure(out[1].capacity, 250);
        assert_int_equal(out[1].level, 4);     /* 10 of 250 */
        assert_figure(out[1].threshold, 37.5); /* 15 % of 250 */
        assert_int_equal(out[1].state, LAB_STOCK_LOW);
        assert_string_equal(out[1].media, "na_index-4x6_4x6in");

        /* A tray with a level alone: its sheets from level and capacity. */
        st.trays[0].amount = -1;
        st.trays[0].level = 40;
        assert_int_equal(lab_stock_from_status("pappl", &st, NOW, 15, out, 4), 2);
        assert_figure(out[1].remaining, 100);
        assert_int_equal(out[1].state, LAB_STOCK_OK);
}

static void test_from_status_supplies_age(void **state)
{
        lab_printer_status_t st = status();
        lab_stock_item_t out[4];

        (void)state;
        st.supplies[0] = supply("ribbon", "ribbonWax", LAB_SUPPLY_RIBBON);
        st.supplies[0].level = 50;
        st.n_supplies = 1;

        st.supplies_age = 300; /* the last marker change was 5 minutes before the answer */
        assert_int_equal(lab_stock_from_status("ds620", &st, NOW, 15, out, 4), 1);
        assert_int_equal(out[0].as_of, NOW - 300);

        st.supplies_age = -1; /* unknown: as of the read */
        assert_int_equal(lab_stock_from_status("ds620", &st, NOW, 15, out, 4), 1);
        assert_int_equal(out[0].as_of, NOW);
}

static void test_from_status_at_most_max(void **state)
{
        lab_printer_status_t st = status();
        lab_stock_item_t out[3];

        (void)state;
        for (size_t i = 0; i < 3; i++) {
                st.supplies[i] = supply("s", "ink", LAB_SUPPLY_INK);
                st.supplies[i].name[1] = (char)('0' + i);
                st.supplies[i].level = 50;
        }
        st.n_supplies = 3;
        st.trays[0] = supply("main", "", LAB_SUPPLY_PAPER);
        st.n_trays = 1;
        memset(&out[2], 0x5a, sizeof out[2]);

        assert_int_equal(lab_stock_from_status("p", &st, NOW, 15, out, 2), 2);
        assert_string_equal(out[1].item, "s1");
        assert_int_equal(out[2].item[0], 0x5a); /* untouched past max */
}

/* ---- declared ---- */

static void test_declared(void **state)
{
        lab_config_pair_t one_use[] = {{"na_index-4x6_4x6in", "1"}};
        lab_config_consumable_t ribbon = {
            .name = "ribbon-4x6",
            .kind = LAB_STOCK_KIND_RIBBON,
            .unit = LAB_STOCK_UNIT_PRINTS,
            .capacity = 400,
            .uses = one_use,
            .n_uses = 1,
            .low = -1,
        };
        lab_config_consumable_t sleeves = {
            .name = "sleeves",
            .kind = LAB_STOCK_KIND_PACKAGING,
            .unit = LAB_STOCK_UNIT_SHEETS,
            .capacity = 1000,
            .low = 50,
        };
        lab_stock_item_t it;

        (void)state;
        lab_stock_declared("ds620", &ribbon, 15, &it);
        assert_string_equal(it.printer, "ds620");
        assert_string_equal(it.item, "ribbon-4x6");
        assert_int_equal(it.kind, LAB_STOCK_KIND_RIBBON);
        assert_int_equal(it.source, LAB_STOCK_SOURCE_COUNTED);
        assert_int_equal(it.unit, LAB_STOCK_UNIT_PRINTS);
        assert_string_equal(it.media, "na_index-4x6_4x6in");
        assert_figure(it.capacity, 400);
        assert_figure(it.threshold, 60);
        assert_true(it.remaining < 0);
        assert_int_equal(it.level, -1);
        assert_int_equal(it.state, LAB_STOCK_UNKNOWN);
        assert_int_equal(it.told, LAB_STOCK_UNKNOWN);

        lab_stock_declared("ds620", &sleeves, 15, &it);
        assert_int_equal(it.source, LAB_STOCK_SOURCE_TECHNICIAN);
        assert_int_equal(it.kind, LAB_STOCK_KIND_PACKAGING);
        assert_figure(it.threshold, 50); /* its own low wins */
        assert_string_equal(it.media, "");
}

/* ---- judge and event_of ---- */

/* What the stage does with one read: judge, tell, record. Returns the event (or NULL). */
static const char *feed(lab_stock_item_t *it, double remaining, unsigned hysteresis, bool loaded)
{
        bool record = false;
        const char *ev;

        it->remaining = remaining;
        it->level = remaining >= 0 ? (int)remaining : -1;
        it->state = lab_stock_judge(it, hysteresis, loaded);
        ev = lab_stock_event_of(it->told, it->state, &record);
        if (record)
                it->told = it->state;
        return ev;
}

/* Counts of the events told. */
typedef struct told_counts_s {
        int low, out, ok, other;
} told_counts_t;

static void count_event(told_counts_t *c, const char *ev)
{
        if (!ev)
                return;
        if (strcmp(ev, "stock.low") == 0)
                c->low++;
        else if (strcmp(ev, "stock.out") == 0)
                c->out++;
        else if (strcmp(ev, "stock.ok") == 0)
                c->ok++;
        else
                c->other++;
}

static void test_flapping_told_once(void **state)
{
        lab_stock_item_t it = percent_item("ribbon", -1, LAB_STOCK_UNKNOWN);
        told_counts_t c = {0};

        (void)state;
        /* A first ok: recorded, not told. */
        assert_null(feed(&it, 50, 5, false));
        assert_int_equal(it.told, LAB_STOCK_OK);
        /* 14, 16, 14, 16, ... every 10 s for 10 minutes: 60 reads around threshold 15. */
        for (int i = 0; i < 60; i++)
                count_event(&c, feed(&it, i % 2 == 0 ? 14 : 16, 5, false));
        assert_int_equal(c.low, 1);
        assert_int_equal(c.ok, 0);
        assert_int_equal(c.out, 0);
        assert_int_equal(c.other, 0);
        assert_int_equal(it.told, LAB_STOCK_LOW);
        /* Still in the band (below 15 + 5): low, nothing told. */
        assert_null(feed(&it, 19, 5, false));
        assert_int_equal(it.state, LAB_STOCK_LOW);
        /* Out of the band: one stock.ok, then nothing. */
        assert_string_equal(feed(&it, 20, 5, false), "stock.ok");
        assert_int_equal(it.told, LAB_STOCK_OK);
        assert_null(feed(&it, 20, 5, false));
        /* Empty. */
        assert_string_equal(feed(&it, 0, 5, false), "stock.out");
        assert_int_equal(it.told, LAB_STOCK_OUT);
        assert_null(feed(&it, 0, 5, false));
        /* From out, back in the low band: low is told (out → low). */
        assert_string_equal(feed(&it, 12, 5, false), "stock.low");
}

static void test_flapping_without_hysteresis(void **state)
{
        lab_stock_item_t it = percent_item("ribbon", -1, LAB_STOCK_OK);
        told_counts_t c = {0};

        (void)state;
        /* The same reads with hysteresis 0: every crossing is told (what 5 prevents). */
        for (int i = 0; i < 60; i++)
                count_event(&c, feed(&it, i % 2 == 0 ? 14 : 16, 0, false));
        assert_int_equal(c.low, 30);
        assert_int_equal(c.ok, 30);
}

static void test_hysteresis_in_units_of_capacity(void **state)
{
        /* A counted item: capacity 400 prints, threshold 60; 5 % of 400 is 20 prints. */
        lab_stock_item_t it = {
            .source = LAB_STOCK_SOURCE_COUNTED,
            .unit = LAB_STOCK_UNIT_PRINTS,
            .capacity = 400,
            .level = -1,
            .threshold = 60,
            .told = LAB_STOCK_LOW,
        };

        (void)state;
        it.remaining = 60;
        assert_int_equal(lab_stock_judge(&it, 5, false), LAB_STOCK_LOW);
        it.remaining = 79;
        assert_int_equal(lab_stock_judge(&it, 5, false), LAB_STOCK_LOW);
        it.remaining = 80;
        assert_int_equal(lab_stock_judge(&it, 5, false), LAB_STOCK_OK);
        /* Never told low: ok just above the threshold. */
        it.told = LAB_STOCK_OK;
        it.remaining = 61;
        assert_int_equal(lab_stock_judge(&it, 5, false), LAB_STOCK_OK);
        it.told = LAB_STOCK_UNKNOWN;
        assert_int_equal(lab_stock_judge(&it, 5, false), LAB_STOCK_OK);
        /* Told out: the same band. */
        it.told = LAB_STOCK_OUT;
        assert_int_equal(lab_stock_judge(&it, 5, false), LAB_STOCK_LOW);
}

static void test_event_of_table(void **state)
{
        bool record = true;

        (void)state;
        /* A first ok: recorded silently. */
        assert_null(lab_stock_event_of(LAB_STOCK_UNKNOWN, LAB_STOCK_OK, &record));
        assert_true(record);
        /* A first low or out is told. */
        assert_string_equal(lab_stock_event_of(LAB_STOCK_UNKNOWN, LAB_STOCK_LOW, &record),
                            "stock.low");
        assert_true(record);
        assert_string_equal(lab_stock_event_of(LAB_STOCK_UNKNOWN, LAB_STOCK_OUT, &record),
                            "stock.out");
        assert_true(record);
        /* The same: nothing. */
        record = true;
        assert_null(lab_stock_event_of(LAB_STOCK_LOW, LAB_STOCK_LOW, &record));
        assert_false(record);
        record = true;
        assert_null(lab_stock_event_of(LAB_STOCK_OK, LAB_STOCK_OK, &record));
        assert_false(record);
        /* Changes. */
        assert_string_equal(lab_stock_event_of(LAB_STOCK_LOW, LAB_STOCK_OK, &record), "stock.ok");
        assert_true(record);
        assert_string_equal(lab_stock_event_of(LAB_STOCK_OUT, LAB_STOCK_OK, &record), "stock.ok");
        assert_string_equal(lab_stock_event_of(LAB_STOCK_OK, LAB_STOCK_LOW, &record), "stock.low");
        assert_string_equal(lab_stock_event_of(LAB_STOCK_LOW, LAB_STOCK_OUT, &record), "stock.out");
        assert_string_equal(lab_stock_event_of(LAB_STOCK_OUT, LAB_STOCK_LOW, &record), "stock.low");
}

static void test_unknown_never_told(void **state)
{
        lab_stock_item_t it = percent_item("ribbon", -1, LAB_STOCK_UNKNOWN);
        const lab_stock_state_t told[] = {LAB_STOCK_UNKNOWN, LAB_STOCK_OK, LAB_STOCK_LOW,
                                          LAB_STOCK_OUT};
        bool record;

        (void)state;
        for (size_t i = 0; i < sizeof told / sizeof told[0]; i++) {
                record = true;
                assert_null(lab_stock_event_of(told[i], LAB_STOCK_UNKNOWN, &record));
                assert_false(record);
        }
        /* Through the stage's steps: told low stays low across an unknown read. */
        assert_string_equal(feed(&it, 10, 5, false), "stock.low");
        assert_null(feed(&it, -1, 5, false));
        assert_int_equal(it.state, LAB_STOCK_UNKNOWN);
        assert_int_equal(it.told, LAB_STOCK_LOW);
        /* And the hysteresis still holds after it: 16 is low, nothing told. */
        assert_null(feed(&it, 16, 5, false));
        assert_int_equal(it.state, LAB_STOCK_LOW);
        /* A NaN figure is no figure. */
        it.remaining = NAN;
        assert_int_equal(lab_stock_judge(&it, 5, false), LAB_STOCK_UNKNOWN);
}

static void test_load_ok_at_once(void **state)
{
        lab_stock_item_t it = percent_item("ribbon", 16, LAB_STOCK_LOW);

        (void)state;
        /* threshold + 1, told low: low by the hysteresis, ok at once after a load. */
        assert_int_equal(lab_stock_judge(&it, 5, false), LAB_STOCK_LOW);
        assert_int_equal(lab_stock_judge(&it, 5, true), LAB_STOCK_OK);
        assert_string_equal(feed(&it, 16, 5, true), "stock.ok");
        /* A load of too little is still low, and a load of nothing is out. */
        it = percent_item("ribbon", 15, LAB_STOCK_OK);
        assert_int_equal(lab_stock_judge(&it, 5, true), LAB_STOCK_LOW);
        it.remaining = 0;
        assert_int_equal(lab_stock_judge(&it, 5, true), LAB_STOCK_OUT);
}

/* ---- moved ---- */

/* Two items as last sent: a percent ribbon at 50, a counted paper at 200 prints. */
static void sent_items(lab_stock_item_t v[2])
{
        v[0] = percent_item("ribbon", 50, LAB_STOCK_OK);
        v[0].state = LAB_STOCK_OK;
        v[1] = percent_item("paper", 200, LAB_STOCK_OK);
        v[1].unit = LAB_STOCK_UNIT_PRINTS;
        v[1].source = LAB_STOCK_SOURCE_COUNTED;
        v[1].capacity = 400;
        v[1].level = 50;
        v[1].state = LAB_STOCK_OK;
}

static void test_moved(void **state)
{
        lab_stock_item_t sent[2], now[3];

        (void)state;
        sent_items(sent);
        memcpy(now, sent, sizeof sent);
        assert_false(lab_stock_moved(sent, 2, now, 2, 2, 5));
        /* The same items in another order. */
        now[0] = sent[1];
        now[1] = sent[0];
        assert_false(lab_stock_moved(sent, 2, now, 2, 2, 5));

        /* A level (percent) moved by 1 point, then 2. */
        memcpy(now, sent, sizeof sent);
        now[0].level = 51;
        now[0].remaining = 51;
        assert_false(lab_stock_moved(sent, 2, now, 2, 2, 5));
        now[0].level = 52;
        now[0].remaining = 52;
        assert_true(lab_stock_moved(sent, 2, now, 2, 2, 5));
        now[0].level = 48;
        now[0].remaining = 48;
        assert_true(lab_stock_moved(sent, 2, now, 2, 2, 5));

        /* A count moved by 4 units, then 5 (the level the same). */
        memcpy(now, sent, sizeof sent);
        now[1].remaining = 196;
        assert_false(lab_stock_moved(sent, 2, now, 2, 2, 5));
        now[1].remaining = 195;
        assert_true(lab_stock_moved(sent, 2, now, 2, 2, 5));
        now[1].remaining = 205;
        assert_true(lab_stock_moved(sent, 2, now, 2, 2, 5));

        /* A state changed, figures the same. */
        memcpy(now, sent, sizeof sent);
        now[1].state = LAB_STOCK_LOW;
        assert_true(lab_stock_moved(sent, 2, now, 2, 2, 5));

        /* An item added; one removed; one renamed. */
        memcpy(now, sent, sizeof sent);
        now[2] = percent_item("ink", 90, LAB_STOCK_OK);
        assert_true(lab_stock_moved(sent, 2, now, 3, 2, 5));
        assert_true(lab_stock_moved(sent, 2, now, 1, 2, 5));
        snprintf(now[1].item, sizeof now[1].item, "paper-2");
        assert_true(lab_stock_moved(sent, 2, now, 2, 2, 5));

        /* A figure became unknown, or known. */
        memcpy(now, sent, sizeof sent);
        now[1].remaining = -1;
        assert_true(lab_stock_moved(sent, 2, now, 2, 2, 5));
        assert_true(lab_stock_moved(now, 2, sent, 2, 2, 5));
        memcpy(now, sent, sizeof sent);
        now[1].level = -1;
        assert_true(lab_stock_moved(sent, 2, now, 2, 2, 5));

        /* Nothing sent yet, nothing now: nothing due. */
        assert_false(lab_stock_moved(NULL, 0, NULL, 0, 2, 5));
}

/* ---- rate_take ---- */

static void test_rate_twelve_an_hour(void **state)
{
        lab_stock_rate_t r = {0};

        (void)state;
        /* One at t, eleven half an hour later: twelve in the hour. */
        assert_true(lab_stock_rate_take(&r, NOW, 12));
        for (int i = 0; i < 11; i++)
                assert_true(lab_stock_rate_take(&r, NOW + 1800, 12));
        /* The 13th within the hour of the first is refused, and not counted. */
        assert_false(lab_stock_rate_take(&r, NOW + 1801, 12));
        assert_false(lab_stock_rate_take(&r, NOW + 3599, 12));
        /* An hour and a second after the first: it has left the window, one is allowed. */
        assert_true(lab_stock_rate_take(&r, NOW + 3601, 12));
        assert_false(lab_stock_rate_take(&r, NOW + 3602, 12));
        /* An hour and a second after the eleven: all allowed again. */
        for (int i = 0; i < 11; i++)
                assert_true(lab_stock_rate_take(&r, NOW + 5401, 12));
        assert_false(lab_stock_rate_take(&r, NOW + 5401, 12));
}

static void test_rate_clamped(void **state)
{
        lab_stock_rate_t r = {0};

        (void)state;
        /* 1000 an hour counts as LAB_STOCK_RATE_MAX: the record never overflows. */
        for (int i = 0; i < LAB_STOCK_RATE_MAX; i++)
                assert_true(lab_stock_rate_take(&r, NOW + i, 1000));
        assert_false(lab_stock_rate_take(&r, NOW + LAB_STOCK_RATE_MAX, 1000));
        assert_int_equal(r.n, LAB_STOCK_RATE_MAX);
        /* 0 an hour: nothing is ever told. */
        r = (lab_stock_rate_t){0};
        assert_false(lab_stock_rate_take(&r, NOW, 0));
}

/* ---- uses ---- */

static void test_uses(void **state)
{
        lab_config_pair_t ribbon_uses[] = {{"na_index-4x6_4x6in", "1"}, {"custom_6x8_6x8in", "2"}};
        lab_config_pair_t paper_uses[] = {{"custom_6x8_6x8in", "1.5"}};
        lab_config_consumable_t cons[] = {
            {.name = "ribbon",
             .kind = LAB_STOCK_KIND_RIBBON,
             .capacity = 400,
             .uses = ribbon_uses,
             .n_uses = 2,
             .low = -1},
            {.name = "sleeves", .kind = LAB_STOCK_KIND_PACKAGING, .capacity = 100, .low = -1},
            {.name = "paper-6x8",
             .kind = LAB_STOCK_KIND_PAPER,
             .unit = LAB_STOCK_UNIT_SHEETS,
             .capacity = 200,
             .uses = paper_uses,
             .n_uses = 1,
             .low = -1},
        };
        lab_config_printer_t cp = {.name = "ds620", .consumables = cons, .n_consumables = 3};
        lab_stock_use_t out[4];

        (void)state;
        assert_int_equal(lab_stock_uses(&cp, "na_index-4x6_4x6in", out, 4), 1);
        assert_ptr_equal(out[0].item, cons[0].name);
        assert_figure(out[0].amount, 1);

        assert_int_equal(lab_stock_uses(&cp, "custom_6x8_6x8in", out, 4), 2);
        assert_string_equal(out[0].item, "ribbon");
        assert_figure(out[0].amount, 2);
        assert_string_equal(out[1].item, "paper-6x8");
        assert_figure(out[1].amount, 1.5);
        /* At most max. */
        assert_int_equal(lab_stock_uses(&cp, "custom_6x8_6x8in", out, 1), 1);
        assert_string_equal(out[0].item, "ribbon");

        /* A media nothing is used for, no media, no printer. */
        assert_int_equal(lab_stock_uses(&cp, "na_5x7_5x7in", out, 4), 0);
        assert_int_equal(lab_stock_uses(&cp, NULL, out, 4), 0);
        assert_int_equal(lab_stock_uses(NULL, "na_index-4x6_4x6in", out, 4), 0);
        cp.n_consumables = 0;
        assert_int_equal(lab_stock_uses(&cp, "na_index-4x6_4x6in", out, 4), 0);
}

/* ---- apply ---- */

static void test_apply(void **state)
{
        double got = -7;

        (void)state;
        /* Remove below zero: refused, *ret untouched. */
        assert_int_equal(lab_stock_apply(LAB_STOCK_REMOVE, 400, 500, &got), -ERANGE);
        assert_figure(got, -7);
        assert_int_equal(lab_stock_apply(LAB_STOCK_REMOVE, -1, 1, &got), -ERANGE);
        /* Remove all there is: zero. */
        assert_int_equal(lab_stock_apply(LAB_STOCK_REMOVE, 400, 400, &got), 0);
        assert_figure(got, 0);
        assert_int_equal(lab_stock_apply(LAB_STOCK_REMOVE, 400, 30, &got), 0);
        assert_figure(got, 370);
        /* Negative, NaN, infinite amounts: refused for every action. */
        for (int a = LAB_STOCK_LOAD; a <= LAB_STOCK_REMOVE; a++) {
                got = -7;
                assert_int_equal(lab_stock_apply((lab_stock_action_t)a, 100, -1, &got), -ERANGE);
                assert_int_equal(lab_stock_apply((lab_stock_action_t)a, 100, NAN, &got), -ERANGE);
                assert_int_equal(lab_stock_apply((lab_stock_action_t)a, 100, INFINITY, &got),
                                 -ERANGE);
                assert_figure(got, -7);
        }
        /* Add to unknown: the amount. */
        assert_int_equal(lab_stock_apply(LAB_STOCK_ADD, -1, 50, &got), 0);
        assert_figure(got, 50);
        assert_int_equal(lab_stock_apply(LAB_STOCK_ADD, 20, 50, &got), 0);
        assert_figure(got, 70);
        /* Load and set take the amount. */
        assert_int_equal(lab_stock_apply(LAB_STOCK_LOAD, 12, 400, &got), 0);
        assert_figure(got, 400);
        assert_int_equal(lab_stock_apply(LAB_STOCK_LOAD, -1, 400, &got), 0);
        assert_figure(got, 400);
        assert_int_equal(lab_stock_apply(LAB_STOCK_SET, 300, 0, &got), 0);
        assert_figure(got, 0);
        /* No such action. */
        assert_int_equal(lab_stock_apply((lab_stock_action_t)9, 10, 1, &got), -EINVAL);
}

/* ---- state_body ---- */

static void test_state_body(void **state)
{
        lab_stock_item_t it = percent_item("6x4 (PC)", 40, LAB_STOCK_LOW);
        json_t *o, *v;
        char *body;

        (void)state;
        it.unit = LAB_STOCK_UNIT_PRINTS;
        it.capacity = 400;
        it.threshold = 60;
        body = lab_stock_state_body(&it);
        assert_non_null(body);
        o = json_loads(body, 0, NULL);
        assert_non_null(o);
        assert_int_equal(json_object_size(o), 6);
        assert_string_equal(json_string_value(json_object_get(o, "printer")), "ds620");
        assert_string_equal(json_string_value(json_object_get(o, "item")), "6x4 (PC)");
        v = json_object_get(o, "remaining");
        assert_true(json_is_number(v));
        assert_figure(json_number_value(v), 40);
        assert_string_equal(json_string_value(json_object_get(o, "unit")), "prints");
        v = json_object_get(o, "threshold");
        assert_true(json_is_number(v));
        assert_figure(json_number_value(v), 60);
        assert_string_equal(json_string_value(json_object_get(o, "source")), "printer");
        json_decref(o);
        free(body);

        /* Unknown: remaining null, not 0 nor -1. */
        it.remaining = -1;
        it.source = LAB_STOCK_SOURCE_COUNTED;
        body = lab_stock_state_body(&it);
        assert_non_null(body);
        o = json_loads(body, 0, NULL);
        assert_non_null(o);
        v = json_object_get(o, "remaining");
        assert_non_null(v);
        assert_true(json_is_null(v));
        assert_string_equal(json_string_value(json_object_get(o, "source")), "counted");
        json_decref(o);
        free(body);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_names_round_trip),
            cmocka_unit_test(test_from_status_gutenprint_count),
            cmocka_unit_test(test_from_status_percent_only),
            cmocka_unit_test(test_from_status_unknown_is_never_zero),
            cmocka_unit_test(test_from_status_skips_waste),
            cmocka_unit_test(test_from_status_marker_low_levels),
            cmocka_unit_test(test_from_status_tray),
            cmocka_unit_test(test_from_status_supplies_age),
            cmocka_unit_test(test_from_status_at_most_max),
            cmocka_unit_test(test_declared),
            cmocka_unit_test(test_flapping_told_once),
            cmocka_unit_test(test_flapping_without_hysteresis),
            cmocka_unit_test(test_hysteresis_in_units_of_capacity),
            cmocka_unit_test(test_event_of_table),
            cmocka_unit_test(test_unknown_never_told),
            cmocka_unit_test(test_load_ok_at_once),
            cmocka_unit_test(test_moved),
            cmocka_unit_test(test_rate_twelve_an_hour),
            cmocka_unit_test(test_rate_clamped),
            cmocka_unit_test(test_uses),
            cmocka_unit_test(test_apply),
            cmocka_unit_test(test_state_body),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
