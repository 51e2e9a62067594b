/*
 * test-ipp-attrs.c - the pure ipp_t -> status / caps / job conversions of
 * drivers/ipp-attrs.c, on responses built in memory: well-formed ones, the
 * shapes real printers send (ippeveprinter's duplicate format list and input
 * trays, CUPS marker-* only, Gutenprint's four marker-message forms on a
 * two-deck printer), and hostile ones (levels out of range, -3, keys missing
 * or given twice), each bad input its own test.
 *
 * Why: printer answers are untrusted input; every branch of the parsing must
 * be exercised without a printer, and must never crash or overflow.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "ipp-attrs.h"

/* A Get-Printer-Attributes-shaped response to add printer attributes to. */
static ipp_t *printer_resp(void)
{
        ipp_t *r = ippNew();

        ippSetStatusCode(r, IPP_STATUS_OK);
        ippAddString(r, IPP_TAG_OPERATION, IPP_TAG_CHARSET, "attributes-charset", NULL, "utf-8");
        return r;
}

/* Add a printer-supply octetString with n values. */
static void add_supplies(ipp_t *r, const char *const *values, int n)
{
        ipp_attribute_t *a = NULL;

        for (int i = 0; i < n; i++) {
                if (i == 0)
                        a = ippAddOctetString(r, IPP_TAG_PRINTER, "printer-supply", values[0],
                                              (int)strlen(values[0]));
                else
                        ippSetOctetString(r, &a, i, values[i], (int)strlen(values[i]));
        }
}

/* printer-supply strings: the keys we use, and what hostile values give. */
static void test_supply_parse(void **state)
{
        lab_supply_t s;
        const char *v;

        v = "index=1;class=supplyThatIsConsumed;type=ribbonWax;unit=percent;maxcapacity=100;"
            "level=80;colorantname=multi-color;";
        assert_int_equal(lab_ipp_supply_parse(v, strlen(v), &s), 1);
        assert_string_equal(s.type, "ribbonWax");
        assert_string_equal(s.color, "multi-color");
        assert_int_equal(s.level, 80);

        v = "type=toner;maxcapacity=200;level=50;colorantname=unknown";
        assert_int_equal(lab_ipp_supply_parse(v, strlen(v), &s), -1); /* no index */
        assert_int_equal(s.level, 25);                                /* scaled to percent */
        assert_string_equal(s.color, "");                             /* unknown -> "" */

        v = "type=ink;level=150;unit=percent;";
        assert_true(lab_ipp_supply_parse(v, strlen(v), &s) != -EINVAL);
        assert_int_equal(s.level, -1);           /* over 100: not believed */
        v = "type=ink;level=-3;maxcapacity=100"; /* PWG "some left" */
        assert_true(lab_ipp_supply_parse(v, strlen(v), &s) != -EINVAL);
        assert_int_equal(s.level, -1);
        v = "level=12abc;type=ink";
        assert_true(lab_ipp_supply_parse(v, strlen(v), &s) != -EINVAL);
        assert_int_equal(s.level, -1);
        v = "level=99999999999999999;maxcapacity=0";
        assert_true(lab_ipp_supply_parse(v, strlen(v), &s) != -EINVAL);
        assert_int_equal(s.level, -1);
        v = "index=99999999999;level=;type=";
        assert_int_equal(lab_ipp_supply_parse(v, strlen(v), &s), -1);
        assert_int_equal(s.level, -1);

        /* Nothing usable at all. */
        assert_int_equal(lab_ipp_supply_parse("", 0, &s), -EINVAL);
        assert_int_equal(lab_ipp_supply_parse("garbage", 7, &s), -EINVAL);
        assert_int_equal(lab_ipp_supply_parse("=;=x;;", 6, &s), -EINVAL);

        /* Length-bounded (no NUL needed), long values truncated, control characters removed. */
        char buf[300];
        memset(buf, 'x', sizeof buf);
        memcpy(buf, "type=", 5);
        assert_true(lab_ipp_supply_parse(buf, sizeof buf, &s) != -EINVAL);
        assert_int_equal(strlen(s.type), sizeof s.type - 1);
        v = "type=a\nb\x1b;level=5";
        assert_true(lab_ipp_supply_parse(v, strlen(v), &s) != -EINVAL);
        assert_string_equal(s.type, "a b ");
        assert_int_equal(s.level, 5);
        v = "level=70;type=toner";
        assert_true(lab_ipp_supply_parse(v, 8, &s) != -EINVAL); /* only "level=70" */
        assert_int_equal(s.level, 70);
        assert_string_equal(s.type, "");
}

/* marker-message: Gutenprint's prints remaining, and messages without a count. */
static void test_marker_remaining(void **state)
{
        assert_int_equal(lab_ipp_marker_remaining("310 native prints remaining"), 310);
        assert_int_equal(lab_ipp_marker_remaining("40 native prints remaining on 6x4 (PC) media"),
                         40);
        assert_int_equal(lab_ipp_marker_remaining("0 native prints remaining"), 0);
        /* Only Gutenprint's forms count: a number elsewhere in a message is no count. */
        assert_int_equal(lab_ipp_marker_remaining("Ribbon: 12 prints remaining on 4x6"), -1);
        assert_int_equal(lab_ipp_marker_remaining("no count remaining"), -1);
        assert_int_equal(lab_ipp_marker_remaining("310 prints"), -1);
        assert_int_equal(lab_ipp_marker_remaining("99999999999 native prints remaining"), -1);
        assert_int_equal(lab_ipp_marker_remaining(""), -1);
        assert_int_equal(lab_ipp_marker_remaining(NULL), -1);
}

/* A CUPS-queue-shaped response: marker-names and marker-levels with n values. */
static ipp_t *markers_resp(const char *const *names, const int *levels, int n)
{
        ipp_t *r = printer_resp();

        ippAddStrings(r, IPP_TAG_PRINTER, IPP_TAG_NAME, "marker-names", n, NULL, names);
        ippAddIntegers(r, IPP_TAG_PRINTER, IPP_TAG_INTEGER, "marker-levels", n, levels);
        return r;
}

/* marker-levels 250: out of range, unknown, never a number. */
static void test_marker_level_250(void **state)
{
        const char *names[] = {"Ribbon"};
        int levels[] = {250};
        ipp_t *r = markers_resp(names, levels, 1);
        lab_printer_status_t s = {0};

        (void)state;
        lab_ipp_printer_status_from(r, &s);
        assert_int_equal(s.n_supplies, 1);
        assert_int_equal(s.supplies[0].level, -1);
        assert_false(s.supplies[0].some_left);
        assert_int_equal(s.supplies[0].remaining, -1);
        ippDelete(r);
}

/* marker-levels -3 (RFC 3805 "some left"): unknown, never 0, with some_left; -2 unknown only. */
static void test_marker_level_some_left(void **state)
{
        const char *names[] = {"6x4 (PC)", "5x7"};
        int levels[] = {-3, -2};
        ipp_t *r = markers_resp(names, levels, 2);
        lab_printer_status_t s = {0};

        (void)state;
        lab_ipp_printer_status_from(r, &s);
        assert_int_equal(s.n_supplies, 2);
        assert_int_equal(s.supplies[0].level, -1);
        assert_true(s.supplies[0].some_left);
        assert_int_equal(s.supplies[1].level, -1);
        assert_false(s.supplies[1].some_left);
        ippDelete(r);
}

/* printer-supply level=-3: the same, in the PWG form. */
static void test_supply_level_some_left(void **state)
{
        lab_supply_t s;
        const char *v = "index=2;type=ribbonWax;unit=percent;maxcapacity=100;level=-3;";

        (void)state;
        assert_int_equal(lab_ipp_supply_parse(v, strlen(v), &s), 2);
        assert_int_equal(s.level, -1);
        assert_int_equal(s.amount, -1);
        assert_true(s.some_left);
        assert_int_equal(s.kind, LAB_SUPPLY_RIBBON);
        assert_int_equal(s.capacity, 100);
        assert_string_equal(s.unit, "percent");
}

/* A Gutenprint DS620-shaped queue with one marker and one message (as cupsd keeps them). */
static void status_one_message(const char *message, lab_printer_status_t *s)
{
        const char *names[] = {"6x4 (PC)"};
        int levels[] = {-1};
        ipp_t *r = markers_resp(names, levels, 1);

        ippAddString(r, IPP_TAG_PRINTER, IPP_TAG_TEXT, "marker-message", NULL, message);
        *s = (lab_printer_status_t){0};
        lab_ipp_printer_status_from(r, s);
        ippDelete(r);
}

/*
 * A Gutenprint message without a count (msg, of form): the parser and the
 * status both say unknown, never a number from the media's name, and keep
 * the media name; some_left only for "One or more".
 */
static void assert_countless(const char *msg, lab_ipp_marker_form_t form, const char *want_media,
                             bool some_left)
{
        lab_printer_status_t s;
        char media[64];
        long n = 99;

        assert_int_equal(lab_ipp_marker_parse(msg, &n, media, sizeof media), form);
        assert_int_equal(n, -1);
        assert_string_equal(media, want_media);
        assert_int_equal(lab_ipp_marker_remaining(msg), -1);
        status_one_message(msg, &s);
        assert_int_equal(s.supplies[0].remaining, -1);
        assert_int_equal(s.supplies[0].level, -1);
        assert_int_equal(s.supplies[0].some_left, some_left);
        assert_string_equal(s.supplies[0].media, want_media);
        assert_string_equal(s.supplies[0].message, msg);
}

/* "Unable to query remaining prints on 6x4 (PC) media" is unknown, not 6. */
static void test_gutenprint_unable(void **state)
{
        (void)state;
        assert_countless("Unable to query remaining prints on 6x4 (PC) media",
                         LAB_IPP_MARKER_UNAVAILABLE, "6x4 (PC)", false);
}

/* "Unknown remaining prints on 4x6 media" is unknown, not 4. */
static void test_gutenprint_unknown(void **state)
{
        (void)state;
        assert_countless("Unknown remaining prints on 4x6 media", LAB_IPP_MARKER_UNKNOWN, "4x6",
                         false);
}

/* "One or more remaining prints on 5x7 media" is unknown, not 5, with some_left. */
static void test_gutenprint_some_left(void **state)
{
        (void)state;
        assert_countless("One or more remaining prints on 5x7 media", LAB_IPP_MARKER_SOME_LEFT,
                         "5x7", true);
}

/* The count form, quoted as the backend writes it, and near misses that are no count. */
static void test_gutenprint_count(void **state)
{
        char media[64];
        long n = 0;

        (void)state;
        assert_int_equal(lab_ipp_marker_parse("'\"40 native prints remaining on 6x4 (PC) media\"'",
                                              &n, media, sizeof media),
                         LAB_IPP_MARKER_COUNT);
        assert_int_equal(n, 40);
        assert_string_equal(media, "6x4 (PC)");
        assert_int_equal(
            lab_ipp_marker_parse("0 native prints remaining on 5x7 media", &n, media, sizeof media),
            LAB_IPP_MARKER_COUNT);
        assert_int_equal(n, 0);
        /* Without a media name (the test peers' message): a count, no name. */
        assert_int_equal(
            lab_ipp_marker_parse("310 native prints remaining", &n, media, sizeof media),
            LAB_IPP_MARKER_COUNT);
        assert_int_equal(n, 310);
        assert_string_equal(media, "");
        /* Not one of the four forms: no count, no name. */
        static const char *const other[] = {
            "Ribbon: 12 prints remaining on 4x6",
            "310 prints",
            "-4 native prints remaining on 4x6 media",
            "99999999999 native prints remaining on 4x6 media",
            "12 native prints remaining on 4x6",
            "12 native prints remaining on  media x",
            "12 native prints remaining on media",
            "Unable to query remaining prints on  media ", /* an empty name, trimmed */
            "unknown remaining prints on 4x6 media",
            "Unknown remaining prints on 4x6 medias",
            "",
        };
        for (size_t i = 0; i < sizeof other / sizeof other[0]; i++) {
                assert_int_equal(lab_ipp_marker_parse(other[i], &n, media, sizeof media),
                                 LAB_IPP_MARKER_OTHER);
                assert_int_equal(n, -1);
                assert_string_equal(media, "");
        }
        assert_int_equal(lab_ipp_marker_parse(NULL, &n, media, sizeof media), LAB_IPP_MARKER_OTHER);
        /* A long name is cut to what media holds. */
        char longmsg[400];
        snprintf(longmsg, sizeof longmsg, "7 native prints remaining on %0300d media", 1);
        assert_int_equal(lab_ipp_marker_parse(longmsg, &n, media, sizeof media),
                         LAB_IPP_MARKER_COUNT);
        assert_int_equal(strlen(media), sizeof media - 1);
}

/* A supply string with keys missing: what is there is read. */
static void test_supply_missing_keys(void **state)
{
        lab_supply_t s;
        const char *v;

        (void)state;
        v = "level=40"; /* no type, unit, capacity or index */
        assert_int_equal(lab_ipp_supply_parse(v, strlen(v), &s), -1);
        assert_int_equal(s.level, 40);
        assert_string_equal(s.type, "");
        assert_int_equal(s.kind, LAB_SUPPLY_OTHER);
        assert_int_equal(s.capacity, -1);
        v = "type=ribbonWax;colorantname=multi-color"; /* no level */
        assert_true(lab_ipp_supply_parse(v, strlen(v), &s) != -EINVAL);
        assert_int_equal(s.level, -1);
        assert_int_equal(s.amount, -1);
        assert_int_equal(s.kind, LAB_SUPPLY_RIBBON);
        v = "maxcapacity=700;level=350"; /* no unit: scaled by the capacity */
        assert_true(lab_ipp_supply_parse(v, strlen(v), &s) != -EINVAL);
        assert_int_equal(s.level, 50);
        assert_int_equal(s.amount, 350);
        assert_int_equal(s.capacity, 700);
        v = "unit=sheets;level=250"; /* no capacity: 250 sheets, but no percent */
        assert_true(lab_ipp_supply_parse(v, strlen(v), &s) != -EINVAL);
        assert_int_equal(s.level, -1);
        assert_int_equal(s.amount, 250);
        v = ";;level=;=5;type;index=;maxcapacity=-2;level"; /* empty and broken pairs */
        assert_int_equal(lab_ipp_supply_parse(v, strlen(v), &s), -1);
        assert_int_equal(s.level, -1);
        assert_int_equal(s.capacity, -1);
        v = "level=800;maxcapacity=700;"; /* more than it holds */
        assert_true(lab_ipp_supply_parse(v, strlen(v), &s) != -EINVAL);
        assert_int_equal(s.level, -1);
        assert_int_equal(s.amount, -1);
}

/* A supply string with keys given twice: two values are unknown, the same value twice is it. */
static void test_supply_duplicate_keys(void **state)
{
        lab_supply_t s;
        const char *v;

        (void)state;
        v = "index=1;type=ink;level=80;level=20;type=toner;unit=percent;";
        assert_int_equal(lab_ipp_supply_parse(v, strlen(v), &s), 1);
        assert_int_equal(s.level, -1);
        assert_string_equal(s.type, "");
        assert_int_equal(s.kind, LAB_SUPPLY_OTHER);
        assert_string_equal(s.unit, "percent");
        v = "index=1;index=1;level=80;LEVEL=80;type=ink;"; /* alike (keys without case) */
        assert_int_equal(lab_ipp_supply_parse(v, strlen(v), &s), 1);
        assert_int_equal(s.level, 80);
        assert_int_equal(s.kind, LAB_SUPPLY_INK);
        v = "index=1;index=2;index=1;level=5"; /* a third value does not settle it */
        assert_int_equal(lab_ipp_supply_parse(v, strlen(v), &s), -1);
        assert_int_equal(s.level, 5);
        v = "maxcapacity=100;maxcapacity=700;level=350";
        assert_true(lab_ipp_supply_parse(v, strlen(v), &s) != -EINVAL);
        assert_int_equal(s.capacity, -1);
        assert_int_equal(s.level, -1); /* 350 without a capacity: no percent */
}

/* Two decks, two marker-messages in the other order: each count goes to its media by name. */
static void test_marker_messages_by_name(void **state)
{
        const char *names[] = {"\"6x4 (PC)\"", "5x7"}; /* a name cupsd kept quoted */
        const char *msgs[] = {
            "'\"230 native prints remaining on 5x7 media\"'",
            "\"Unable to query remaining prints on 6x4 (PC) media\"",
        };
        int levels[] = {-1, 46};
        ipp_t *r = markers_resp(names, levels, 2);
        lab_printer_status_t s = {0};

        (void)state;
        ippAddStrings(r, IPP_TAG_PRINTER, IPP_TAG_TEXT, "marker-message", 2, NULL, msgs);
        lab_ipp_printer_status_from(r, &s);
        assert_int_equal(s.n_supplies, 2);
        assert_int_equal(s.supplies[0].remaining, -1);
        assert_string_equal(s.supplies[0].media, "6x4 (PC)");
        assert_string_equal(s.supplies[0].message, msgs[1]);
        assert_int_equal(s.supplies[1].remaining, 230);
        assert_int_equal(s.supplies[1].level, 46);
        assert_string_equal(s.supplies[1].media, "5x7");
        ippDelete(r);

        /* Names that match no supply: in order. */
        const char *other[] = {"Deck 1", "Deck 2"};
        const char *msgs2[] = {
            "310 native prints remaining on 6x4 media",
            "12 native prints remaining on 5x7 media",
        };
        r = markers_resp(other, levels, 2);
        ippAddStrings(r, IPP_TAG_PRINTER, IPP_TAG_TEXT, "marker-message", 2, NULL, msgs2);
        s = (lab_printer_status_t){0};
        lab_ipp_printer_status_from(r, &s);
        assert_int_equal(s.supplies[0].remaining, 310);
        assert_string_equal(s.supplies[0].media, "6x4");
        assert_int_equal(s.supplies[1].remaining, 12);
        assert_string_equal(s.supplies[1].media, "5x7");
        ippDelete(r);

        /* One matched by name into the other's place: the other stays unattached. */
        const char *mixed[] = {"6x4", "5x7"};
        const char *msgs3[] = {
            "9 native prints remaining on 5x7 media",
            "8 native prints remaining on 8x10 media",
        };
        r = markers_resp(mixed, levels, 2);
        ippAddStrings(r, IPP_TAG_PRINTER, IPP_TAG_TEXT, "marker-message", 2, NULL, msgs3);
        s = (lab_printer_status_t){0};
        lab_ipp_printer_status_from(r, &s);
        assert_int_equal(s.supplies[0].remaining, -1);
        assert_string_equal(s.supplies[0].message, "");
        assert_int_equal(s.supplies[1].remaining, 9);
        ippDelete(r);
}

/* cupsd's extra marker attributes: low/high levels, the change time, impressions. */
static void test_marker_thresholds_and_age(void **state)
{
        const char *names[] = {"6x4 (PC)", "5x7"};
        int levels[] = {40, 90}, low[] = {10, 250}, high[] = {100, -1};
        ipp_t *r = markers_resp(names, levels, 2);
        lab_printer_status_t s = {0};

        (void)state;
        ippAddIntegers(r, IPP_TAG_PRINTER, IPP_TAG_INTEGER, "marker-low-levels", 2, low);
        ippAddIntegers(r, IPP_TAG_PRINTER, IPP_TAG_INTEGER, "marker-high-levels", 2, high);
        ippAddInteger(r, IPP_TAG_PRINTER, IPP_TAG_INTEGER, "marker-change-time", 1796638000);
        ippAddInteger(r, IPP_TAG_PRINTER, IPP_TAG_INTEGER, "printer-up-time", 1796638989);
        ippAddInteger(r, IPP_TAG_PRINTER, IPP_TAG_INTEGER, "printer-impressions-completed", 1234);
        lab_ipp_printer_status_from(r, &s);
        assert_int_equal(s.supplies[0].low, 10);
        assert_int_equal(s.supplies[0].high, 100);
        assert_int_equal(s.supplies[1].low, -1); /* 250: out of range */
        assert_int_equal(s.supplies[1].high, -1);
        assert_int_equal(s.supplies_age, 989);
        assert_int_equal(s.impressions, 1234);
        ippDelete(r);

        /* Never changed (0), a change after the answer, wrong tags: unknown. */
        r = printer_resp();
        ippAddInteger(r, IPP_TAG_PRINTER, IPP_TAG_INTEGER, "marker-change-time", 0);
        ippAddInteger(r, IPP_TAG_PRINTER, IPP_TAG_INTEGER, "printer-impressions-completed", -7);
        s = (lab_printer_status_t){0};
        lab_ipp_printer_status_from(r, &s);
        assert_int_equal(s.supplies_age, -1);
        assert_int_equal(s.impressions, -1);
        ippDelete(r);
        r = printer_resp();
        ippAddInteger(r, IPP_TAG_PRINTER, IPP_TAG_INTEGER, "marker-change-time", 500);
        ippAddInteger(r, IPP_TAG_PRINTER, IPP_TAG_INTEGER, "printer-up-time", 20);
        ippAddString(r, IPP_TAG_PRINTER, IPP_TAG_TEXT, "printer-impressions-completed", NULL, "9");
        lab_ipp_printer_status_from(r, &s);
        assert_int_equal(s.supplies_age, -1);
        assert_int_equal(s.impressions, -1);
        ippDelete(r);
}

/* printer-input-tray: ippeveprinter's four trays (as CUPS 2.4.2 sends them), PAPPL's, hostile. */
static void test_trays(void **state)
{
        const char *trays[] = {
            "type=sheetFeedAutoRemovableTray;mediafeed=0;mediaxfeed=0;maxcapacity=-2;level=-2;"
            "status=0;name=auto",
            "type=sheetFeedAutoRemovableTray;mediafeed=17780;mediaxfeed=12700;maxcapacity=250;"
            "level=100;status=0;name=main;",
            "type=sheetFeedManual;mediafeed=0;mediaxfeed=0;maxcapacity=1;level=-3;status=0;"
            "name=manual",
            "type=sheetFeedAutoNonRemovableTray;maxcapacity=25;level=300;name=by-pass-tray",
            "nothing here",
            "level=12;capacityunit=meters",
        };
        ipp_t *r = printer_resp(), *col = ippNew();
        lab_printer_status_t s = {0};

        (void)state;
        ippAddOctetString(r, IPP_TAG_PRINTER, "printer-input-tray", trays[0],
                          (int)strlen(trays[0]));
        ipp_attribute_t *a = ippFindAttribute(r, "printer-input-tray", IPP_TAG_ZERO);
        for (int i = 1; i < 6; i++)
                ippSetOctetString(r, &a, i, trays[i], (int)strlen(trays[i]));
        ippAddString(col, IPP_TAG_ZERO, IPP_TAG_KEYWORD, "media-size-name", NULL, "na_5x7_5x7in");
        ippAddString(col, IPP_TAG_ZERO, IPP_TAG_KEYWORD, "media-source", NULL, "main");
        ippAddCollection(r, IPP_TAG_PRINTER, "media-col-ready", col);

        lab_ipp_printer_status_from(r, &s);
        assert_int_equal(s.n_supplies, 0); /* trays are not supplies */
        assert_int_equal(s.n_trays, 5);
        for (size_t i = 0; i < s.n_trays; i++)
                assert_int_equal(s.trays[i].kind, LAB_SUPPLY_PAPER);
        assert_string_equal(s.trays[0].name, "auto");
        assert_int_equal(s.trays[0].level, -1);
        assert_int_equal(s.trays[0].capacity, -1);
        assert_int_equal(s.trays[0].amount, -1);
        assert_string_equal(s.trays[1].name, "main");
        assert_int_equal(s.trays[1].capacity, 250);
        assert_int_equal(s.trays[1].amount, 100);
        assert_int_equal(s.trays[1].level, 40);
        assert_string_equal(s.trays[1].unit, "sheets");
        assert_string_equal(s.trays[1].media, "na_5x7_5x7in");
        assert_int_equal(s.trays[2].level, -1); /* -3: some left, never 0 */
        assert_true(s.trays[2].some_left);
        assert_int_equal(s.trays[3].level, -1); /* 300 in a tray of 25 */
        assert_int_equal(s.trays[3].amount, -1);
        assert_string_equal(s.trays[3].media, "");
        assert_string_equal(s.trays[4].name, ""); /* no name, no type */
        assert_int_equal(s.trays[4].amount, 12);
        assert_int_equal(s.trays[4].level, -1); /* no capacity: no percent */
        assert_string_equal(s.trays[4].unit, "meters");

        /* The same tray through the parser: missing and duplicate keys. */
        lab_supply_t t;
        const char *v = "name=main;name=side;maxcapacity=250;level=0;type=sheetFeedManual";
        assert_int_equal(lab_ipp_tray_parse(v, strlen(v), &t), 0);
        assert_string_equal(t.name, "sheetFeedManual"); /* two names: the type names it */
        assert_int_equal(t.level, 0);
        assert_int_equal(t.amount, 0);
        v = "medianame=Glossy 4x6;level=5";
        assert_int_equal(lab_ipp_tray_parse(v, strlen(v), &t), 0);
        assert_string_equal(t.name, "Glossy 4x6");
        assert_int_equal(lab_ipp_tray_parse("", 0, &t), -EINVAL);
        ippDelete(col);
        ippDelete(r);
}

/* More trays than the status holds: bounded. */
static void test_trays_bounds(void **state)
{
        const char *v = "type=sheetFeedManual;maxcapacity=10;level=5;name=t";
        ipp_t *r = printer_resp();
        ipp_attribute_t *a =
            ippAddOctetString(r, IPP_TAG_PRINTER, "printer-input-tray", v, (int)strlen(v));
        lab_printer_status_t s = {0};

        (void)state;
        for (int i = 1; i < 20; i++)
                ippSetOctetString(r, &a, i, v, (int)strlen(v));
        lab_ipp_printer_status_from(r, &s);
        assert_int_equal(s.n_trays, LAB_PRINTER_TRAYS_MAX);
        assert_int_equal(s.trays[LAB_PRINTER_TRAYS_MAX - 1].level, 50);
        ippDelete(r);
}

/* A stopped printer with PWG supplies, marker-message and media-col-ready without a size name. */
static void test_status_pwg(void **state)
{
        ipp_t *r = printer_resp(), *col = ippNew(), *size = ippNew();
        const char *reasons[] = {"media-empty-error", "none", "marker-supply-low-warning"};
        static const char ribbon[] = "index=1;type=ribbonWax;unit=percent;maxcapacity=100;level=80;"
                                     "colorantname=multi-color;";
        const char *supplies[] = {
            ribbon,
            "no key value pairs", /* skipped */
            "index=3;type=paper;level=350;maxcapacity=700;",
        };
        const char *desc[] = {"4x6 ribbon", "junk", ""};
        lab_printer_status_t s = {0};
        char why[256];

        ippAddInteger(r, IPP_TAG_PRINTER, IPP_TAG_ENUM, "printer-state", IPP_PSTATE_STOPPED);
        ippAddStrings(r, IPP_TAG_PRINTER, IPP_TAG_KEYWORD, "printer-state-reasons", 3, NULL,
                      reasons);
        ippAddString(r, IPP_TAG_PRINTER, IPP_TAG_TEXT, "printer-state-message", NULL,
                     "Out of paper.\n");
        ippAddBoolean(r, IPP_TAG_PRINTER, "printer-is-accepting-jobs", 0);
        add_supplies(r, supplies, 3);
        ippAddStrings(r, IPP_TAG_PRINTER, IPP_TAG_TEXT, "printer-supply-description", 3, NULL,
                      desc);
        ippAddString(r, IPP_TAG_PRINTER, IPP_TAG_TEXT, "marker-message", NULL,
                     "310 native prints remaining");
        ippAddInteger(size, IPP_TAG_ZERO, IPP_TAG_INTEGER, "x-dimension", 10160);
        ippAddInteger(size, IPP_TAG_ZERO, IPP_TAG_INTEGER, "y-dimension", 15240);
        ippAddCollection(col, IPP_TAG_ZERO, "media-size", size);
        ippAddString(col, IPP_TAG_ZERO, IPP_TAG_KEYWORD, "media-type", NULL, "photographic-glossy");
        ippAddCollection(r, IPP_TAG_PRINTER, "media-col-ready", col);
        ippAddString(r, IPP_TAG_PRINTER, IPP_TAG_KEYWORD, "media-ready", NULL, "ignored_when_col");

        lab_ipp_printer_status_from(r, &s);
        assert_int_equal(s.state, LAB_PRINTER_STOPPED);
        assert_string_equal(s.message, "Out of paper. ");
        assert_false(s.accepting);
        assert_int_equal(s.n_reasons, 2);
        assert_string_equal(s.reasons[0].keyword, "media-empty");
        assert_int_equal(s.reasons[0].severity, LAB_SEVERITY_ERROR);
        assert_string_equal(s.reasons[1].keyword, "marker-supply-low");
        assert_int_equal(s.reasons[1].severity, LAB_SEVERITY_WARNING);
        assert_int_equal(s.n_supplies, 2);
        assert_string_equal(s.supplies[0].name, "4x6 ribbon");
        assert_int_equal(s.supplies[0].level, 80);
        assert_int_equal(s.supplies[0].remaining, 310);
        assert_string_equal(s.supplies[0].message, "310 native prints remaining");
        assert_string_equal(s.supplies[1].name, "paper"); /* empty description: the type */
        assert_int_equal(s.supplies[1].level, 50);
        assert_int_equal(s.supplies[1].remaining, -1);
        assert_int_equal(s.n_media, 1);
        assert_string_equal(s.media[0].size, "na_index-4x6_4x6in"); /* from x/y */
        assert_string_equal(s.media[0].type, "photographic-glossy");
        assert_string_equal(s.media[0].source, "");
        assert_false(lab_printer_status_available(&s, why, sizeof why));
        assert_int_equal(strncmp(why, "media_empty:", 12), 0);

        ippDelete(size);
        ippDelete(col);
        ippDelete(r);
}

/* A CUPS queue: marker-* only, media-ready only, wrongly-typed attributes ignored. */
static void test_status_markers(void **state)
{
        ipp_t *r = printer_resp();
        const char *names[] = {"Ribbon", "Paper"}, *colors[] = {"none", "#FFFFFF"};
        const char *types[] = {"ribbonWax", "paper"};
        int levels[] = {50, -3};
        lab_printer_status_t s = {0};
        char why[256];

        ippAddString(r, IPP_TAG_PRINTER, IPP_TAG_KEYWORD, "printer-state", NULL, "stopped");
        ippAddStrings(r, IPP_TAG_PRINTER, IPP_TAG_NAME, "marker-names", 2, NULL, names);
        ippAddStrings(r, IPP_TAG_PRINTER, IPP_TAG_NAME, "marker-colors", 2, NULL, colors);
        ippAddStrings(r, IPP_TAG_PRINTER, IPP_TAG_KEYWORD, "marker-types", 2, NULL, types);
        ippAddIntegers(r, IPP_TAG_PRINTER, IPP_TAG_INTEGER, "marker-levels", 2, levels);
        ippAddString(r, IPP_TAG_PRINTER, IPP_TAG_TEXT, "marker-message", NULL,
                     "310 native prints remaining");
        ippAddString(r, IPP_TAG_PRINTER, IPP_TAG_KEYWORD, "media-ready", NULL, "na_5x7_5x7in");
        ippAddString(r, IPP_TAG_PRINTER, IPP_TAG_KEYWORD, "printer-is-accepting-jobs", NULL,
                     "false"); /* wrong tag: ignored, taken as accepting */

        lab_ipp_printer_status_from(r, &s);
        assert_int_equal(s.state, LAB_PRINTER_IDLE); /* printer-state as keyword: ignored */
        assert_true(s.accepting);
        assert_int_equal(s.n_reasons, 0);
        assert_int_equal(s.n_supplies, 2);
        assert_string_equal(s.supplies[0].name, "Ribbon");
        assert_string_equal(s.supplies[0].type, "ribbonWax");
        assert_string_equal(s.supplies[0].color, "");
        assert_int_equal(s.supplies[0].level, 50);
        assert_int_equal(s.supplies[0].remaining, 310);
        assert_string_equal(s.supplies[1].color, "#FFFFFF");
        assert_int_equal(s.supplies[1].level, -1);
        assert_int_equal(s.supplies[1].remaining, -1);
        assert_int_equal(s.n_media, 1);
        assert_string_equal(s.media[0].size, "na_5x7_5x7in");
        assert_string_equal(s.media[0].type, "");
        assert_true(lab_printer_status_available(&s, why, sizeof why));
        ippDelete(r);
}

/* More values than the status holds: bounded, no overflow. */
static void test_status_bounds(void **state)
{
        ipp_t *r = printer_resp();
        const char *reasons[40], *supplies[20];
        char longmsg[1000];
        lab_printer_status_t s = {0};

        for (int i = 0; i < 40; i++)
                reasons[i] = "door-open-report";
        for (int i = 0; i < 20; i++)
                supplies[i] = "type=toner;level=10";
        memset(longmsg, 'm', sizeof longmsg - 1);
        longmsg[sizeof longmsg - 1] = '\0';
        ippAddStrings(r, IPP_TAG_PRINTER, IPP_TAG_KEYWORD, "printer-state-reasons", 40, NULL,
                      reasons);
        add_supplies(r, supplies, 20);
        ippAddString(r, IPP_TAG_PRINTER, IPP_TAG_TEXT, "printer-state-message", NULL, longmsg);
        ippAddString(r, IPP_TAG_PRINTER, IPP_TAG_TEXT, "marker-message", NULL, longmsg);

        lab_ipp_printer_status_from(r, &s);
        assert_int_equal(s.n_reasons, LAB_PRINTER_REASONS_MAX);
        assert_int_equal(s.n_supplies, LAB_PRINTER_SUPPLIES_MAX);
        assert_int_equal(strlen(s.message), sizeof s.message - 1);
        assert_int_equal(strlen(s.supplies[0].message), sizeof s.supplies[0].message - 1);
        assert_string_equal(s.supplies[15].name, "toner");
        ippDelete(r);

        /* An empty response: defaults, nothing else. */
        r = printer_resp();
        s = (lab_printer_status_t){.n_supplies = 3};
        lab_ipp_printer_status_from(r, &s);
        assert_int_equal(s.state, LAB_PRINTER_IDLE);
        assert_int_equal(s.n_supplies, 0);
        assert_int_equal(s.n_media, 0);
        ippDelete(r);
}

/* Capabilities: two document-format-supported lists merged without duplicates, dpcm, colour. */
/* One media-col-database entry: x by y (hundredths of mm), margins, an optional name. */
static ipp_t *db_col(int x, int y, int margin_tb, int margin_lr, const char *name)
{
        ipp_t *col = ippNew(), *size = ippNew();

        ippAddInteger(size, IPP_TAG_ZERO, IPP_TAG_INTEGER, "x-dimension", x);
        ippAddInteger(size, IPP_TAG_ZERO, IPP_TAG_INTEGER, "y-dimension", y);
        ippAddCollection(col, IPP_TAG_ZERO, "media-size", size);
        ippDelete(size);
        ippAddInteger(col, IPP_TAG_ZERO, IPP_TAG_INTEGER, "media-top-margin", margin_tb);
        ippAddInteger(col, IPP_TAG_ZERO, IPP_TAG_INTEGER, "media-bottom-margin", margin_tb);
        ippAddInteger(col, IPP_TAG_ZERO, IPP_TAG_INTEGER, "media-left-margin", margin_lr);
        ippAddInteger(col, IPP_TAG_ZERO, IPP_TAG_INTEGER, "media-right-margin", margin_lr);
        if (name)
                ippAddString(col, IPP_TAG_ZERO, IPP_TAG_KEYWORD, "media-size-name", NULL, name);
        return col;
}

/* media-col-database: a size per name (not per type), its imageable area; hostile entries out. */
static void test_caps_sizes(void **state)
{
        ipp_t *r = printer_resp();
        ipp_t *cols[] = {
            db_col(10160, 15240, 0, 0, NULL),       /* na_index-4x6_4x6in by its size */
            db_col(10160, 15240, 0, 0, NULL),       /* the same, for another media type */
            db_col(12700, 17780, 322, 0, "oe_5x7"), /* named, with margins */
            db_col(10000, 10000, 6000, 0, "gone"),  /* margins eat it: left out */
            db_col(-5, 15240, 0, 0, "negative"),    /* hostile: left out */
        };
        ipp_attribute_t *db = ippAddCollections(r, IPP_TAG_PRINTER, "media-col-database", 5, NULL);
        lab_printer_caps_t c = {0};
        const lab_printer_size_t *size = NULL;
        char why[512];

        (void)state;
        for (int i = 0; i < 5; i++) {
                ippSetCollection(r, &db, i, cols[i]);
                ippDelete(cols[i]);
        }
        assert_int_equal(lab_ipp_caps_from(r, &c), 0);
        assert_false(c.ppd);
        assert_int_equal(c.n_sizes, 2);
        assert_string_equal(c.sizes[0].name, "na_index-4x6_4x6in");
        assert_int_equal(c.sizes[0].nominal_w, 10160);
        assert_true(lab_printer_size_fits(&c.sizes[0], "e", 1200, 1800, 300, NULL, 0));
        assert_string_equal(c.sizes[1].name, "oe_5x7");
        assert_true(c.sizes[1].area_h > 485.7 &&
                    c.sizes[1].area_h < 485.8); /* 7 in - 2 x 3.22 mm */
        /* A product named otherwise: matched by its size, sent as the printer's name. */
        assert_int_equal(
            lab_printer_media_choose(&c, "e", "na_5x7_5x7in", NULL, &size, why, sizeof why), 0);
        assert_string_equal(size->name, "oe_5x7");
        assert_int_equal(lab_printer_media_choose(&c, "e", "na_govt-letter_8x10in", NULL, &size,
                                                  why, sizeof why),
                         -ENOENT);
        lab_printer_caps_done(&c);
        ippDelete(r);
}

static void test_caps(void **state)
{
        ipp_t *r = printer_resp();
        const char *f1[] = {"image/jpeg", "image/pwg-raster", "image/urf"};
        const char *f2[] = {"application/octet-stream", "image/pwg-raster", "image/urf"};
        const char *media[] = {"na_index-4x6_4x6in", "na_5x7_5x7in", "na_index-4x6_4x6in"};
        const char *modes[] = {"monochrome", "color"};
        lab_printer_caps_t c = {0};
        ipp_attribute_t *res;

        ippAddStrings(r, IPP_TAG_PRINTER, IPP_TAG_MIMETYPE, "document-format-supported", 3, NULL,
                      f1);
        ippAddStrings(r, IPP_TAG_PRINTER, IPP_TAG_KEYWORD, "media-supported", 3, NULL, media);
        ippAddStrings(r, IPP_TAG_PRINTER, IPP_TAG_MIMETYPE, "document-format-supported", 3, NULL,
                      f2);
        ippAddStrings(r, IPP_TAG_PRINTER, IPP_TAG_KEYWORD, "print-color-mode-supported", 2, NULL,
                      modes);
        res = ippAddResolution(r, IPP_TAG_PRINTER, "printer-resolution-supported", IPP_RES_PER_INCH,
                               300, 300);
        ippSetResolution(r, &res, 1, IPP_RES_PER_CM, 118, 118); /* 299.7 dpi: a duplicate */
        ippSetResolution(r, &res, 2, IPP_RES_PER_INCH, 600, 600);
        ippAddString(r, IPP_TAG_PRINTER, IPP_TAG_TEXT, "printer-make-and-model", NULL, "DNP DS620");

        assert_int_equal(lab_ipp_caps_from(r, &c), 0);
        assert_int_equal(c.n_formats, 4);
        assert_string_equal(c.formats[0], "image/jpeg");
        assert_string_equal(c.formats[3], "application/octet-stream");
        assert_int_equal(c.n_media, 2);
        assert_int_equal(c.n_media_types, 0);
        assert_int_equal(c.n_resolutions, 2);
        assert_int_equal(c.resolutions[0], 300);
        assert_int_equal(c.resolutions[1], 600);
        assert_true(c.color);
        assert_string_equal(c.make_model, "DNP DS620");
        lab_printer_caps_done(&c);
        ippDelete(r);

        /* Monochrome only; color-supported is only a fallback. */
        r = printer_resp();
        ippAddString(r, IPP_TAG_PRINTER, IPP_TAG_KEYWORD, "print-color-mode-supported", NULL,
                     "monochrome");
        ippAddBoolean(r, IPP_TAG_PRINTER, "color-supported", 1);
        assert_int_equal(lab_ipp_caps_from(r, &c), 0);
        assert_false(c.color);
        assert_null(c.make_model);
        lab_printer_caps_done(&c);
        ippDelete(r);
        r = printer_resp();
        ippAddBoolean(r, IPP_TAG_PRINTER, "color-supported", 1);
        ippAddInteger(r, IPP_TAG_PRINTER, IPP_TAG_INTEGER, "media-supported", 5); /* wrong tag */
        assert_int_equal(lab_ipp_caps_from(r, &c), 0);
        assert_true(c.color);
        assert_int_equal(c.n_media, 0);
        lab_printer_caps_done(&c);
        ippDelete(r);
}

/* Job states and a Get-Job-Attributes response. */
static void test_job_status(void **state)
{
        ipp_t *r = printer_resp();
        const char *reasons[] = {"aborted-by-system", "none", "job-completed-with-errors"};
        lab_pjob_status_t st;

        assert_int_equal(lab_ipp_job_state(IPP_JSTATE_PENDING), LAB_PJOB_PENDING);
        assert_int_equal(lab_ipp_job_state(IPP_JSTATE_HELD), LAB_PJOB_PENDING);
        assert_int_equal(lab_ipp_job_state(IPP_JSTATE_PROCESSING), LAB_PJOB_PROCESSING);
        assert_int_equal(lab_ipp_job_state(IPP_JSTATE_STOPPED), LAB_PJOB_PROCESSING);
        assert_int_equal(lab_ipp_job_state(IPP_JSTATE_CANCELED), LAB_PJOB_CANCELED);
        assert_int_equal(lab_ipp_job_state(IPP_JSTATE_ABORTED), LAB_PJOB_ABORTED);
        assert_int_equal(lab_ipp_job_state(IPP_JSTATE_COMPLETED), LAB_PJOB_COMPLETED);
        assert_int_equal(lab_ipp_job_state(42), LAB_PJOB_UNKNOWN);
        assert_int_equal(lab_ipp_printer_state(4), LAB_PRINTER_PROCESSING);

        ippAddInteger(r, IPP_TAG_JOB, IPP_TAG_INTEGER, "job-id", 7);
        ippAddInteger(r, IPP_TAG_JOB, IPP_TAG_ENUM, "job-state", IPP_JSTATE_ABORTED);
        ippAddStrings(r, IPP_TAG_JOB, IPP_TAG_KEYWORD, "job-state-reasons", 3, NULL, reasons);
        ippAddString(r, IPP_TAG_JOB, IPP_TAG_TEXT, "job-state-message", NULL, " Ribbon end");
        ippAddInteger(r, IPP_TAG_JOB, IPP_TAG_INTEGER, "job-impressions-completed", 1);
        ippAddString(r, IPP_TAG_JOB, IPP_TAG_NAME, "job-name", NULL, "job-7/1/2");
        st = (lab_pjob_status_t){0};
        lab_ipp_job_status_from(r, &st);
        assert_int_equal(st.state, LAB_PJOB_ABORTED);
        assert_false(st.stopped);
        assert_string_equal(st.reasons, "aborted-by-system,job-completed-with-errors");
        assert_string_equal(st.message, " Ribbon end");
        assert_int_equal(st.impressions_completed, 1);
        assert_string_equal(st.job_name, "job-7/1/2");
        ippDelete(r);

        /* Held by cupsd after a filter failed: stopped, its words in job-printer-state-message. */
        r = printer_resp();
        ippAddInteger(r, IPP_TAG_JOB, IPP_TAG_ENUM, "job-state", IPP_JSTATE_STOPPED);
        ippAddString(r, IPP_TAG_JOB, IPP_TAG_TEXT, "job-printer-state-message", NULL,
                     "The print file could not be opened.");
        ippAddString(r, IPP_TAG_JOB, IPP_TAG_TEXT, "job-state-message", NULL, "");
        st = (lab_pjob_status_t){0};
        lab_ipp_job_status_from(r, &st);
        assert_int_equal(st.state, LAB_PJOB_PROCESSING);
        assert_true(st.stopped);
        assert_string_equal(st.message, "The print file could not be opened.");
        assert_string_equal(st.job_name, "");
        ippDelete(r);

        /* Nothing known: unknown state, -1 impressions; reasons that do not fit are dropped whole.
         */
        r = printer_resp();
        const char *many[40];
        for (int i = 0; i < 40; i++)
                many[i] = "job-printing-with-a-very-long-reason";
        ippAddStrings(r, IPP_TAG_JOB, IPP_TAG_KEYWORD, "job-state-reasons", 40, NULL, many);
        ippAddInteger(r, IPP_TAG_JOB, IPP_TAG_INTEGER, "job-impressions-completed", -5);
        lab_ipp_job_status_from(r, &st);
        assert_int_equal(st.state, LAB_PJOB_UNKNOWN);
        assert_int_equal(st.impressions_completed, -1);
        assert_true(strlen(st.reasons) < sizeof st.reasons);
        assert_int_equal(strlen(st.reasons) % (strlen(many[0]) + 1), strlen(many[0]));
        ippDelete(r);
}

/* Add one job group to a Get-Jobs response (with a separator before all but the first). */
static void add_job(ipp_t *r, bool first, int id, const char *name, ipp_jstate_t state)
{
        if (!first)
                ippAddSeparator(r);
        if (id > 0)
                ippAddInteger(r, IPP_TAG_JOB, IPP_TAG_INTEGER, "job-id", id);
        if (name)
                ippAddString(r, IPP_TAG_JOB, IPP_TAG_NAME, "job-name", NULL, name);
        ippAddInteger(r, IPP_TAG_JOB, IPP_TAG_ENUM, "job-state", state);
}

/* Get-Jobs: exact name match, highest job-id wins, groups without a job-id ignored. */
static void test_find_job(void **state)
{
        ipp_t *r = printer_resp();
        lab_pjob_status_t st;
        int id = 0;

        add_job(r, true, 4, "job-1/1/1", IPP_JSTATE_ABORTED);
        add_job(r, false, 5, "job-1/1/10", IPP_JSTATE_COMPLETED);
        add_job(r, false, 7, "job-1/1/1", IPP_JSTATE_PROCESSING);
        add_job(r, false, 0, "job-2/1/1", IPP_JSTATE_COMPLETED);
        add_job(r, false, 9, NULL, IPP_JSTATE_COMPLETED);

        assert_int_equal(lab_ipp_find_job(r, "job-1/1/1", &id, &st, NULL), 0);
        assert_int_equal(id, 7);
        assert_int_equal(st.state, LAB_PJOB_PROCESSING);
        assert_int_equal(lab_ipp_find_job(r, "job-1/1/10", &id, &st, NULL), 0);
        assert_int_equal(id, 5);
        assert_int_equal(st.state, LAB_PJOB_COMPLETED);
        assert_int_equal(lab_ipp_find_job(r, "job-2/1/1", &id, &st, NULL), -ENOENT);
        assert_int_equal(lab_ipp_find_job(r, "job-1/1", &id, &st, NULL), -ENOENT);
        ippDelete(r);

        r = printer_resp();
        assert_int_equal(lab_ipp_find_job(r, "job-1/1/1", &id, &st, NULL), -ENOENT);
        ippDelete(r);
}

/* The oldest end among finished jobs: active jobs and jobs without a time do not count. */
static void test_find_job_oldest_end(void **state)
{
        ipp_t *r = printer_resp();
        lab_pjob_status_t st;
        int64_t oldest = 99;
        int id = 0;

        add_job(r, true, 3, "a/1/1", IPP_JSTATE_PROCESSING);
        ippAddInteger(r, IPP_TAG_JOB, IPP_TAG_INTEGER, "time-at-completed", 5); /* not finished */
        add_job(r, false, 4, "b/1/1", IPP_JSTATE_COMPLETED);
        ippAddInteger(r, IPP_TAG_JOB, IPP_TAG_INTEGER, "time-at-completed", 40);
        add_job(r, false, 5, "c/1/1", IPP_JSTATE_ABORTED);
        ippAddInteger(r, IPP_TAG_JOB, IPP_TAG_INTEGER, "time-at-completed", 30);
        add_job(r, false, 6, "d/1/1", IPP_JSTATE_CANCELED); /* no time */
        add_job(r, false, 7, "e/1/1", IPP_JSTATE_COMPLETED);
        ippAddInteger(r, IPP_TAG_JOB, IPP_TAG_INTEGER, "time-at-completed", -4); /* bogus */

        assert_int_equal(lab_ipp_find_job(r, "zz/1/1", &id, &st, &oldest), -ENOENT);
        assert_int_equal(oldest, 30);
        assert_int_equal(lab_ipp_find_job(r, "b/1/1", &id, &st, &oldest), 0);
        assert_int_equal(oldest, 30);
        ippDelete(r);

        r = printer_resp();
        add_job(r, true, 3, "a/1/1", IPP_JSTATE_PENDING);
        assert_int_equal(lab_ipp_find_job(r, "zz/1/1", &id, &st, &oldest), -ENOENT);
        assert_int_equal(oldest, -1);
        ippDelete(r);
}

/* printer-up-time: an up-time (ippeveprinter), a wall clock (cupsd), missing, nonsense. */
static void test_up_time(void **state)
{
        time_t now = 1796638989; /* what cupsd 2.4.2 answered for both attributes */
        int64_t up = -1;
        bool is_uptime = false;
        ipp_t *r;

        r = printer_resp();
        ippAddInteger(r, IPP_TAG_PRINTER, IPP_TAG_INTEGER, "printer-up-time", 1234);
        ippAddDate(r, IPP_TAG_PRINTER, "printer-current-time", ippTimeToDate(now));
        assert_int_equal(lab_ipp_up_time(r, &up, &is_uptime), 0);
        assert_int_equal(up, 1234);
        assert_true(is_uptime);
        ippDelete(r);

        r = printer_resp();
        ippAddInteger(r, IPP_TAG_PRINTER, IPP_TAG_INTEGER, "printer-up-time", (int)now + 3);
        ippAddDate(r, IPP_TAG_PRINTER, "printer-current-time", ippTimeToDate(now));
        assert_int_equal(lab_ipp_up_time(r, &up, &is_uptime), 0);
        assert_false(is_uptime);
        ippDelete(r);

        /* Without printer-current-time: over ten years is a clock. */
        r = printer_resp();
        ippAddInteger(r, IPP_TAG_PRINTER, IPP_TAG_INTEGER, "printer-up-time", (int)now);
        assert_int_equal(lab_ipp_up_time(r, &up, &is_uptime), 0);
        assert_false(is_uptime);
        ippDelete(r);
        r = printer_resp();
        ippAddInteger(r, IPP_TAG_PRINTER, IPP_TAG_INTEGER, "printer-up-time", 86400 * 400);
        assert_int_equal(lab_ipp_up_time(r, &up, &is_uptime), 0);
        assert_true(is_uptime);
        ippDelete(r);

        r = printer_resp();
        assert_int_equal(lab_ipp_up_time(r, &up, &is_uptime), -ENOENT);
        ippAddInteger(r, IPP_TAG_PRINTER, IPP_TAG_INTEGER, "printer-up-time", -5);
        assert_int_equal(lab_ipp_up_time(r, &up, &is_uptime), -ENOENT);
        ippDelete(r);
        r = printer_resp();
        ippAddString(r, IPP_TAG_PRINTER, IPP_TAG_TEXT, "printer-up-time", NULL, "12");
        assert_int_equal(lab_ipp_up_time(r, &up, &is_uptime), -ENOENT);
        ippDelete(r);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_supply_parse),
            cmocka_unit_test(test_marker_remaining),
            cmocka_unit_test(test_status_pwg),
            cmocka_unit_test(test_status_markers),
            cmocka_unit_test(test_status_bounds),
            cmocka_unit_test(test_caps),
            cmocka_unit_test(test_caps_sizes),
            cmocka_unit_test(test_job_status),
            cmocka_unit_test(test_find_job),
            cmocka_unit_test(test_find_job_oldest_end),
            cmocka_unit_test(test_up_time),
            cmocka_unit_test(test_marker_level_250),
            cmocka_unit_test(test_marker_level_some_left),
            cmocka_unit_test(test_supply_level_some_left),
            cmocka_unit_test(test_gutenprint_unable),
            cmocka_unit_test(test_gutenprint_unknown),
            cmocka_unit_test(test_gutenprint_some_left),
            cmocka_unit_test(test_gutenprint_count),
            cmocka_unit_test(test_supply_missing_keys),
            cmocka_unit_test(test_supply_duplicate_keys),
            cmocka_unit_test(test_marker_messages_by_name),
            cmocka_unit_test(test_marker_thresholds_and_age),
            cmocka_unit_test(test_trays),
            cmocka_unit_test(test_trays_bounds),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
