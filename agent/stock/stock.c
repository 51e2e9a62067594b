/*
 * stock.c - the stock rules (see stock.h): items from a status read, states
 * with hysteresis, when to tell, what a print uses. Pure.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "macro.h"
#include "stock.h"

/* The index of s in names (n of them), or -1. */
static int word_index(const char *const *names, size_t n, const char *s)
{
        for (size_t i = 0; s && i < n; i++)
                if (names[i] && strcmp(names[i], s) == 0)
                        return (int)i;
        return -1;
}

static const char *const source_names[] = {
    [LAB_STOCK_SOURCE_PRINTER] = "printer",
    [LAB_STOCK_SOURCE_COUNTED] = "counted",
    [LAB_STOCK_SOURCE_TECHNICIAN] = "technician",
};
static const char *const state_names[] = {
    [LAB_STOCK_OK] = "ok",
    [LAB_STOCK_LOW] = "low",
    [LAB_STOCK_OUT] = "out",
    [LAB_STOCK_UNKNOWN] = "unknown",
};
static const char *const action_names[] = {
    [LAB_STOCK_LOAD] = "load",
    [LAB_STOCK_SET] = "set",
    [LAB_STOCK_ADD] = "add",
    [LAB_STOCK_REMOVE] = "remove",
};
static const char *const kind_names[] = {
    [LAB_STOCK_KIND_PAPER] = "paper",
    [LAB_STOCK_KIND_RIBBON] = "ribbon",
    [LAB_STOCK_KIND_INK] = "ink",
    [LAB_STOCK_KIND_TONER] = "toner",
    [LAB_STOCK_KIND_PACKAGING] = "packaging",
    [LAB_STOCK_KIND_OTHER] = "other",
};
static const char *const unit_names[] = {
    [LAB_STOCK_UNIT_PRINTS] = "prints",
    [LAB_STOCK_UNIT_SHEETS] = "sheets",
    [LAB_STOCK_UNIT_METRES] = "metres",
    [LAB_STOCK_UNIT_PERCENT] = "percent",
};

#define NAME_OF(names, v) ((unsigned)(v) < ELEMENTSOF(names) ? (names)[(v)] : NULL)

const char *lab_stock_source_to_string(lab_stock_source_t s)
{
        return NAME_OF(source_names, s);
}

int lab_stock_source_from_string(const char *s)
{
        return word_index(source_names, ELEMENTSOF(source_names), s);
}

const char *lab_stock_state_to_string(lab_stock_state_t s)
{
        return NAME_OF(state_names, s);
}

int lab_stock_state_from_string(const char *s)
{
        return word_index(state_names, ELEMENTSOF(state_names), s);
}

const char *lab_stock_action_to_string(lab_stock_action_t a)
{
        return NAME_OF(action_names, a);
}

int lab_stock_action_from_string(const char *s)
{
        return word_index(action_names, ELEMENTSOF(action_names), s);
}

const char *lab_stock_kind_to_string(lab_stock_kind_t k)
{
        return NAME_OF(kind_names, k);
}

int lab_stock_kind_from_string(const char *s)
{
        return word_index(kind_names, ELEMENTSOF(kind_names), s);
}

const char *lab_stock_unit_to_string(lab_stock_unit_t u)
{
        return NAME_OF(unit_names, u);
}

int lab_stock_unit_from_string(const char *s)
{
        return word_index(unit_names, ELEMENTSOF(unit_names), s);
}

/* A driver's supply kind as a stock kind; false for what is no stock (a waste receptacle). */
static bool kind_of_supply(lab_supply_kind_t k, lab_stock_kind_t *ret)
{
        switch (k) {
        case LAB_SUPPLY_PAPER:
                *ret = LAB_STOCK_KIND_PAPER;
                return true;
        case LAB_SUPPLY_RIBBON:
                *ret = LAB_STOCK_KIND_RIBBON;
                return true;
        case LAB_SUPPLY_INK:
                *ret = LAB_STOCK_KIND_INK;
                return true;
        case LAB_SUPPLY_TONER:
                *ret = LAB_STOCK_KIND_TONER;
                return true;
        case LAB_SUPPLY_OTHER:
                *ret = LAB_STOCK_KIND_OTHER;
                return true;
        case LAB_SUPPLY_WASTE:
        default:
                return false;
        }
}

/* One supply or tray as an item. */
static void item_of_supply(const char *printer, const lab_supply_t *sp, bool tray, int64_t as_of,
                           unsigned low_percent, lab_stock_item_t *it)
{
        double low_pct = sp->low >= 0 && sp->low <= 100 ? sp->low : (double)low_percent;

        *it = (lab_stock_item_t){.source = LAB_STOCK_SOURCE_PRINTER,
                                 .remaining = -1,
                                 .capacity = -1,
                                 .level = sp->level,
                                 .state = LAB_STOCK_UNKNOWN,
                                 .told = LAB_STOCK_UNKNOWN,
                                 .as_of = as_of};
        snprintf(it->printer, sizeof it->printer, "%s", printer);
        snprintf(it->item, sizeof it->item, "%s", sp->name);
        snprintf(it->media, sizeof it->media, "%s", sp->media);
        if (tray) {
                it->kind = LAB_STOCK_KIND_PAPER;
                it->unit = LAB_STOCK_UNIT_SHEETS;
                it->remaining = sp->amount >= 0 ? sp->amount : -1;
                it->capacity = sp->capacity > 0 ? sp->capacity : -1;
                if (it->remaining < 0 && sp->level >= 0 && it->capacity > 0)
                        it->remaining = round(it->capacity * sp->level / 100.0);
        } else if (sp->remaining >= 0) {
                /* A count (Gutenprint's prints): the capacity from count and level. */
                it->unit = LAB_STOCK_UNIT_PRINTS;
                it->remaining = (double)sp->remaining;
                if (sp->level > 0)
                        it->capacity = round(it->remaining * 100.0 / sp->level);
        } else {
                it->unit = LAB_STOCK_UNIT_PERCENT;
                it->capacity = 100;
                it->remaining = sp->level >= 0 ? sp->level : -1;
        }
        if (it->level < 0 && it->remaining >= 0 && it->capacity > 0)
                it->level = (int)lround(fmin(100.0, it->remaining * 100.0 / it->capacity));
        it->threshold = it->capacity > 0 ? it->capacity * low_pct / 100.0 : 0;
}

size_t lab_stock_from_status(const char *printer, const lab_printer_status_t *st, int64_t now,
                             unsigned low_percent, lab_stock_item_t *out, size_t max)
{
        int64_t as_of = st->supplies_age >= 0 ? now - st->supplies_age : now;
        size_t n = 0;

        for (size_t i = 0; i < st->n_supplies && n < max; i++) {
                lab_stock_kind_t kind;

                if (!kind_of_supply(st->supplies[i].kind, &kind))
                        continue;
                item_of_supply(printer, &st->supplies[i], false, as_of, low_percent, &out[n]);
                out[n].kind = kind;
                n++;
        }
        for (size_t i = 0; i < st->n_trays && n < max; i++)
                item_of_supply(printer, &st->trays[i], true, now, low_percent, &out[n++]);
        for (size_t i = 0; i < n; i++)
                out[i].state = lab_stock_judge(&out[i], 0, false);
        return n;
}

void lab_stock_declared(const char *printer, const lab_config_consumable_t *c, unsigned low_percent,
                        lab_stock_item_t *out)
{
        *out = (lab_stock_item_t){
            .kind = c->kind,
            .source = c->n_uses > 0 ? LAB_STOCK_SOURCE_COUNTED : LAB_STOCK_SOURCE_TECHNICIAN,
            .remaining = -1,
            .unit = c->unit,
            .capacity = c->capacity,
            .level = -1,
            .threshold = c->low >= 0 ? c->low : c->capacity * low_percent / 100.0,
            .state = LAB_STOCK_UNKNOWN,
            .told = LAB_STOCK_UNKNOWN,
        };
        snprintf(out->printer, sizeof out->printer, "%s", printer);
        snprintf(out->item, sizeof out->item, "%s", c->name);
        /* The media it is for: the one it is used for, when it is one. */
        if (c->n_uses == 1)
                snprintf(out->media, sizeof out->media, "%s", c->uses[0].name);
}

lab_stock_state_t lab_stock_judge(const lab_stock_item_t *it, unsigned hysteresis, bool loaded)
{
        double band;

        if (!(it->remaining >= 0))
                return LAB_STOCK_UNKNOWN;
        if (it->remaining <= 0)
                return LAB_STOCK_OUT;
        if (it->remaining <= it->threshold)
                return LAB_STOCK_LOW;
        if (loaded || (it->told != LAB_STOCK_LOW && it->told != LAB_STOCK_OUT))
                return LAB_STOCK_OK;
        band = (it->capacity > 0 ? it->capacity : 100.0) * hysteresis / 100.0;
        return it->remaining < it->threshold + band ? LAB_STOCK_LOW : LAB_STOCK_OK;
}

const char *lab_stock_event_of(lab_stock_state_t told, lab_stock_state_t judged, bool *ret_record)
{
        *ret_record = false;
        if (judged == LAB_STOCK_UNKNOWN || judged == told)
                return NULL;
        *ret_record = true;
        switch (judged) {
        case LAB_STOCK_OK:
                return told == LAB_STOCK_UNKNOWN ? NULL : "stock.ok";
        case LAB_STOCK_LOW:
                return "stock.low";
        case LAB_STOCK_OUT:
                return "stock.out";
        default:
                return NULL;
        }
}

/* Whether two figures (< 0 unknown) differ by at least step, or in being known. */
static bool figure_moved(double a, double b, double step)
{
        if ((a >= 0) != (b >= 0))
                return true;
        return a >= 0 && fabs(a - b) >= step;
}

/* The item of sent (n) named like it, or NULL. */
static const lab_stock_item_t *find_item(const lab_stock_item_t *v, size_t n,
                                         const lab_stock_item_t *it)
{
        for (size_t i = 0; i < n; i++)
                if (strcmp(v[i].item, it->item) == 0)
                        return &v[i];
        return NULL;
}

bool lab_stock_moved(const lab_stock_item_t *sent, size_t n_sent, const lab_stock_item_t *now,
                     size_t n_now, unsigned min_change_percent, double min_change_units)
{
        if (n_sent != n_now)
                return true;
        for (size_t i = 0; i < n_now; i++) {
                const lab_stock_item_t *was = find_item(sent, n_sent, &now[i]);
                double step = now[i].unit == LAB_STOCK_UNIT_PERCENT ? (double)min_change_percent
                                                                    : min_change_units;

                if (!was || was->state != now[i].state || was->unit != now[i].unit ||
                    figure_moved(was->level, now[i].level, min_change_percent) ||
                    figure_moved(was->remaining, now[i].remaining, step))
                        return true;
        }
        return false;
}

bool lab_stock_rate_take(lab_stock_rate_t *r, int64_t now, unsigned max_per_hour)
{
        size_t keep = 0;

        if (max_per_hour > LAB_STOCK_RATE_MAX)
                max_per_hour = LAB_STOCK_RATE_MAX;
        for (size_t i = 0; i < r->n && i < LAB_STOCK_RATE_MAX; i++)
                if (r->at[i] > now - 3600 && r->at[i] <= now)
                        r->at[keep++] = r->at[i];
        r->n = keep;
        if (r->n >= max_per_hour)
                return false;
        r->at[r->n++] = now;
        return true;
}

size_t lab_stock_uses(const lab_config_printer_t *cp, const char *media, lab_stock_use_t *out,
                      size_t max)
{
        size_t n = 0;

        for (size_t i = 0; cp && media && i < cp->n_consumables && n < max; i++) {
                const lab_config_consumable_t *c = &cp->consumables[i];
                const char *v = lab_config_pair_get(c->uses, c->n_uses, media);
                double amount;

                /* The config checked the number (check_use_pair). */
                if (!v || !((amount = strtod(v, NULL)) > 0))
                        continue;
                out[n++] = (lab_stock_use_t){.item = c->name, .amount = amount};
        }
        return n;
}

int lab_stock_apply(lab_stock_action_t a, double remaining, double amount, double *ret)
{
        double have = remaining >= 0 ? remaining : 0;

        if (!isfinite(amount) || amount < 0)
                return -ERANGE;
        switch (a) {
        case LAB_STOCK_LOAD:
        case LAB_STOCK_SET:
                *ret = amount;
                return 0;
        case LAB_STOCK_ADD:
                *ret = have + amount;
                return 0;
        case LAB_STOCK_REMOVE:
                if (amount > have)
                        return -ERANGE;
                *ret = have - amount;
                return 0;
        default:
                return -EINVAL;
        }
}

char *lab_stock_state_body(const lab_stock_item_t *it)
{
        json_t *o =
            json_pack("{s:s, s:s, s:o, s:s, s:f, s:s}", "printer", it->printer, "item", it->item,
                      "remaining", it->remaining >= 0 ? json_real(it->remaining) : json_null(),
                      "unit", lab_stock_unit_to_string(it->unit), "threshold", it->threshold,
                      "source", lab_stock_source_to_string(it->source));
        char *body = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;

        json_decref(o);
        return body;
}
