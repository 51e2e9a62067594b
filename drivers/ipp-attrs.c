/*
 * ipp-attrs.c - turn IPP responses into lab_printer_status_t, caps and job
 * status, without any I/O.
 *
 * Why: this is where untrusted printer data enters the agent. Every string
 * is copied bounded and cleaned of control characters, every number is
 * range-checked, and an attribute with an unexpected value tag is ignored
 * rather than misread. printer-ipp.c sends requests; this file only reads.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cups/cups.h>

#include "ipp-attrs.h"
#include "macro.h"

/* The most values one capabilities list keeps (a hostile printer could send more). */
#define CAPS_LIST_MAX 1024

/* Copy src (or "" for NULL) into dst[size], truncated, control characters made spaces. */
static void copy_clean(char *dst, size_t size, const char *src)
{
        size_t i = 0;

        if (size == 0)
                return;
        for (; src && src[i] && i + 1 < size; i++)
                dst[i] = (unsigned char)src[i] < 0x20 || src[i] == 0x7f ? ' ' : src[i];
        dst[i] = '\0';
}

/* Copy the len bytes at src into dst[size] as above (stops at a NUL). */
static void copy_clean_n(char *dst, size_t size, const char *src, size_t len)
{
        size_t i = 0;

        if (size == 0)
                return;
        for (; i < len && src[i] && i + 1 < size; i++)
                dst[i] = (unsigned char)src[i] < 0x20 || src[i] == 0x7f ? ' ' : src[i];
        dst[i] = '\0';
}

/* The first attribute called name in any group, NULL if none. */
static ipp_attribute_t *find(ipp_t *resp, const char *name)
{
        return ippFindAttribute(resp, name, IPP_TAG_ZERO);
}

/* Value i of a string-like attribute (text, name, keyword, ...), NULL otherwise. */
static const char *attr_str(ipp_attribute_t *a, int i)
{
        return a ? ippGetString(a, i, NULL) : NULL;
}

/* Whether a holds integers or enums. */
static bool attr_is_int(ipp_attribute_t *a)
{
        return a && (ippGetValueTag(a) == IPP_TAG_INTEGER || ippGetValueTag(a) == IPP_TAG_ENUM);
}

lab_printer_state_t lab_ipp_printer_state(int ipp_state)
{
        switch (ipp_state) {
        case IPP_PSTATE_PROCESSING:
                return LAB_PRINTER_PROCESSING;
        case IPP_PSTATE_STOPPED:
                return LAB_PRINTER_STOPPED;
        default:
                return LAB_PRINTER_IDLE;
        }
}

lab_pjob_state_t lab_ipp_job_state(int ipp_job_state)
{
        switch (ipp_job_state) {
        case IPP_JSTATE_PENDING:
        case IPP_JSTATE_HELD:
                return LAB_PJOB_PENDING;
        case IPP_JSTATE_PROCESSING:
        case IPP_JSTATE_STOPPED:
                return LAB_PJOB_PROCESSING;
        case IPP_JSTATE_CANCELED:
                return LAB_PJOB_CANCELED;
        case IPP_JSTATE_ABORTED:
                return LAB_PJOB_ABORTED;
        case IPP_JSTATE_COMPLETED:
                return LAB_PJOB_COMPLETED;
        default:
                return LAB_PJOB_UNKNOWN;
        }
}

/* Parse a decimal int of at most 9 digits with optional '-' in [s, s+len); -EINVAL otherwise. */
static int parse_int(const char *s, size_t len, int *ret)
{
        bool neg = false;
        int v = 0;

        if (len > 0 && s[0] == '-') {
                neg = true;
                s++;
                len--;
        }
        if (len == 0 || len > 9)
                return -EINVAL;
        for (size_t i = 0; i < len; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return -EINVAL;
                v = v * 10 + (s[i] - '0');
        }
        *ret = neg ? -v : v;
        return 0;
}

/* A supply with everything unknown. */
static lab_supply_t supply_unknown(void)
{
        return (lab_supply_t){
            .level = -1, .remaining = -1, .amount = -1, .capacity = -1, .low = -1, .high = -1};
}

/* One key asked of a PWG "key=value;..." string: its value, if given once (or twice alike). */
typedef struct kv_s {
        const char *key;
        const char *v; /* NULL: not given, or given twice with two values */
        size_t len;
        bool conflict;
} kv_t;

/*
 * Split the len bytes at value at ';' into key=value pairs and fill the keys
 * asked for in kv[n] (compared without case). A key given twice with two
 * values is left unknown. Returns whether any pair had a key and a '='.
 */
static bool kv_split(const char *value, size_t len, kv_t *kv, size_t n)
{
        const char *p = value, *end = value + len;
        bool any = false;

        for (size_t k = 0; k < n; k++)
                kv[k] = (kv_t){.key = kv[k].key};
        while (p < end) {
                const char *semi = memchr(p, ';', (size_t)(end - p));
                const char *stop = semi ? semi : end;
                const char *eq = memchr(p, '=', (size_t)(stop - p));

                if (eq && eq > p) {
                        size_t klen = (size_t)(eq - p), vlen = (size_t)(stop - eq - 1);

                        any = true;
                        for (size_t k = 0; k < n; k++) {
                                kv_t *e = &kv[k];
                                if (strlen(e->key) != klen || strncasecmp(p, e->key, klen) != 0)
                                        continue;
                                if (e->conflict)
                                        break;
                                if (!e->v) {
                                        e->v = eq + 1;
                                        e->len = vlen;
                                } else if (e->len != vlen || memcmp(e->v, eq + 1, vlen) != 0) {
                                        e->v = NULL;
                                        e->len = 0;
                                        e->conflict = true;
                                }
                                break;
                        }
                }
                p = semi ? semi + 1 : end;
        }
        return any;
}

/* The integer value of kv (parse_int), or INT_MIN when it is not given or not a number. */
static int kv_int(const kv_t *kv)
{
        int v;

        return kv->v && parse_int(kv->v, kv->len, &v) == 0 ? v : INT_MIN;
}

/* Copy the value of kv (or "") into dst[size], cleaned. */
static void kv_copy(const kv_t *kv, char *dst, size_t size)
{
        copy_clean_n(dst, size, kv->v ? kv->v : "", kv->v ? kv->len : 0);
}

/*
 * s's level (percent), amount, capacity and some_left from a PWG level and
 * maxcapacity (INT_MIN when not given) in s->unit: -1 other, -2 unknown, -3
 * some left (RFC 3805), and a level over the capacity (or over 100 percent)
 * are never a number. Without a capacity a level is a percent only when no
 * unit is said (as before PWG 5100.13 units), else an amount.
 */
static void supply_levels(lab_supply_t *s, int level, int maxcap)
{
        bool is_percent = strcmp(s->unit, "percent") == 0;

        s->capacity = maxcap > 0 ? maxcap : -1;
        s->some_left = level == -3;
        if (level < 0 || (maxcap > 0 && level > maxcap))
                return;
        if (is_percent) {
                if (level <= 100)
                        s->level = s->amount = level;
                return;
        }
        if (maxcap <= 0) {
                /* No capacity: an amount in a known unit, or (no unit) a percent. */
                if (s->unit[0])
                        s->amount = level;
                else if (level <= 100)
                        s->level = level;
                return;
        }
        s->amount = level;
        s->level = (int)((long)level * 100 / maxcap);
}

int lab_ipp_supply_parse(const char *value, size_t len, lab_supply_t *out)
{
        enum { K_INDEX, K_TYPE, K_UNIT, K_MAXCAP, K_LEVEL, K_COLOR, K_N };
        kv_t kv[K_N] = {
            [K_INDEX] = {.key = "index"}, [K_TYPE] = {.key = "type"},
            [K_UNIT] = {.key = "unit"},   [K_MAXCAP] = {.key = "maxcapacity"},
            [K_LEVEL] = {.key = "level"}, [K_COLOR] = {.key = "colorantname"},
        };
        int index;

        *out = supply_unknown();
        if (!kv_split(value, len, kv, K_N))
                return -EINVAL;
        kv_copy(&kv[K_TYPE], out->type, sizeof out->type);
        kv_copy(&kv[K_COLOR], out->color, sizeof out->color);
        kv_copy(&kv[K_UNIT], out->unit, sizeof out->unit);
        if (strcmp(out->color, "unknown") == 0)
                out->color[0] = '\0';
        out->kind = lab_supply_kind_of(out->type);
        supply_levels(out, kv_int(&kv[K_LEVEL]), kv_int(&kv[K_MAXCAP]));
        index = kv_int(&kv[K_INDEX]);
        return index >= 0 ? index : -1;
}

int lab_ipp_tray_parse(const char *value, size_t len, lab_supply_t *out)
{
        enum { K_TYPE, K_NAME, K_MEDIANAME, K_MAXCAP, K_LEVEL, K_UNIT, K_N };
        kv_t kv[K_N] = {
            [K_TYPE] = {.key = "type"},           [K_NAME] = {.key = "name"},
            [K_MEDIANAME] = {.key = "medianame"}, [K_MAXCAP] = {.key = "maxcapacity"},
            [K_LEVEL] = {.key = "level"},         [K_UNIT] = {.key = "capacityunit"},
        };

        *out = supply_unknown();
        if (!kv_split(value, len, kv, K_N))
                return -EINVAL;
        out->kind = LAB_SUPPLY_PAPER;
        kv_copy(&kv[K_TYPE], out->type, sizeof out->type);
        kv_copy(&kv[K_NAME], out->name, sizeof out->name);
        if (!out->name[0])
                kv_copy(&kv[K_MEDIANAME], out->name, sizeof out->name);
        if (!out->name[0])
                copy_clean(out->name, sizeof out->name, out->type);
        kv_copy(&kv[K_UNIT], out->unit, sizeof out->unit);
        if (!out->unit[0])
                copy_clean(out->unit, sizeof out->unit, "sheets");
        supply_levels(out, kv_int(&kv[K_LEVEL]), kv_int(&kv[K_MAXCAP]));
        return 0;
}

/* Narrow [*s, *s + *len) past blanks and quotes at either end (Gutenprint quotes its values). */
static void trim_quotes(const char **s, size_t *len)
{
        while (*len > 0 && strchr(" \t\r\n\"'", (*s)[0])) {
                (*s)++;
                (*len)--;
        }
        while (*len > 0 && strchr(" \t\r\n\"'", (*s)[*len - 1]))
                (*len)--;
}

/* Whether [s, s+len) is "NAME media" with a NAME (copied into media[size], which may be NULL). */
static bool media_name(const char *s, size_t len, char *media, size_t size)
{
        static const char tail[] = " media";
        const size_t tl = sizeof tail - 1;

        if (len <= tl || memcmp(s + len - tl, tail, tl) != 0)
                return false;
        if (media && size)
                copy_clean_n(media, size, s, len - tl);
        return true;
}

lab_ipp_marker_form_t lab_ipp_marker_parse(const char *message, long *ret_count, char *media,
                                           size_t size)
{
        static const struct {
                const char *prefix;
                lab_ipp_marker_form_t form;
        } worded[] = {
            {"Unable to query remaining prints on ", LAB_IPP_MARKER_UNAVAILABLE},
            {"Unknown remaining prints on ", LAB_IPP_MARKER_UNKNOWN},
            {"One or more remaining prints on ", LAB_IPP_MARKER_SOME_LEFT},
        };
        static const char native[] = " native prints remaining", on[] = " on ";
        const char *s = message;
        size_t len = message ? strlen(message) : 0, digits = 0;
        long count = 0;

        if (ret_count)
                *ret_count = -1;
        if (media && size)
                media[0] = '\0';
        if (!message)
                return LAB_IPP_MARKER_OTHER;
        trim_quotes(&s, &len);
        for (size_t i = 0; i < ELEMENTSOF(worded); i++) {
                size_t pl = strlen(worded[i].prefix);
                if (len > pl && memcmp(s, worded[i].prefix, pl) == 0)
                        return media_name(s + pl, len - pl, media, size) ? worded[i].form
                                                                         : LAB_IPP_MARKER_OTHER;
        }
        for (; digits < len && isdigit((unsigned char)s[digits]); digits++) {
                if (digits >= 9)
                        return LAB_IPP_MARKER_OTHER;
                count = count * 10 + (s[digits] - '0');
        }
        if (digits == 0 || len - digits < sizeof native - 1 ||
            memcmp(s + digits, native, sizeof native - 1) != 0)
                return LAB_IPP_MARKER_OTHER;
        s += digits + sizeof native - 1;
        len -= digits + sizeof native - 1;
        /* "N native prints remaining" alone (older backends, the test peers), or "... on NAME
         * media". */
        if (len > 0 && (len <= sizeof on - 1 || memcmp(s, on, sizeof on - 1) != 0 ||
                        !media_name(s + sizeof on - 1, len - (sizeof on - 1), media, size))) {
                if (media && size)
                        media[0] = '\0';
                return LAB_IPP_MARKER_OTHER;
        }
        if (ret_count)
                *ret_count = count;
        return LAB_IPP_MARKER_COUNT;
}

long lab_ipp_marker_remaining(const char *message)
{
        long count;

        return lab_ipp_marker_parse(message, &count, NULL, 0) == LAB_IPP_MARKER_COUNT ? count : -1;
}

/* Whether two names are the same, blanks, quotes and case aside. */
static bool names_equal(const char *a, const char *b)
{
        size_t la = strlen(a), lb = strlen(b);

        trim_quotes(&a, &la);
        trim_quotes(&b, &lb);
        return la > 0 && la == lb && strncasecmp(a, b, la) == 0;
}

/* Give supply s the marker-message text and what it says. */
static void supply_take_message(lab_supply_t *s, const char *text)
{
        char media[sizeof s->media];
        long count;
        lab_ipp_marker_form_t form = lab_ipp_marker_parse(text, &count, media, sizeof media);

        copy_clean(s->message, sizeof s->message, text);
        s->remaining = form == LAB_IPP_MARKER_COUNT ? count : -1;
        if (form == LAB_IPP_MARKER_SOME_LEFT)
                s->some_left = true;
        if (media[0])
                copy_clean(s->media, sizeof s->media, media);
}

/*
 * Attach marker-message values to the supplies: a Gutenprint message to the
 * supply named as its media (a two-deck printer reports two), then the
 * others in order (message i to supply i, a single one to the first) where
 * that supply has none yet.
 */
static void attach_marker_messages(ipp_t *resp, lab_printer_status_t *ret)
{
        ipp_attribute_t *m = find(resp, "marker-message");
        int n = m ? ippGetCount(m) : 0;
        bool taken[LAB_PRINTER_SUPPLIES_MAX] = {false}, placed[LAB_PRINTER_SUPPLIES_MAX] = {false};

        if (n <= 0 || ret->n_supplies == 0)
                return;
        if (n > LAB_PRINTER_SUPPLIES_MAX)
                n = LAB_PRINTER_SUPPLIES_MAX;
        for (int i = 0; i < n; i++) {
                const char *s = attr_str(m, i);
                char media[sizeof ret->supplies[0].media];

                if (!s ||
                    lab_ipp_marker_parse(s, NULL, media, sizeof media) == LAB_IPP_MARKER_OTHER ||
                    !media[0])
                        continue;
                for (size_t k = 0; k < ret->n_supplies && !placed[i]; k++) {
                        if (taken[k] || !names_equal(ret->supplies[k].name, media))
                                continue;
                        supply_take_message(&ret->supplies[k], s);
                        taken[k] = placed[i] = true;
                }
        }
        for (int i = 0; i < n && (size_t)i < ret->n_supplies; i++) {
                const char *s = attr_str(m, i);
                if (!s || placed[i] || taken[i])
                        continue;
                supply_take_message(&ret->supplies[i], s);
                taken[i] = placed[i] = true;
        }
}

/* Supplies from printer-supply (+ printer-supply-description); false if there is none. */
static bool supplies_from_pwg(ipp_t *resp, lab_printer_status_t *ret)
{
        ipp_attribute_t *sup = find(resp, "printer-supply");
        ipp_attribute_t *desc = find(resp, "printer-supply-description");
        int n = sup ? ippGetCount(sup) : 0;

        if (n <= 0)
                return false;
        for (int i = 0; i < n && ret->n_supplies < LAB_PRINTER_SUPPLIES_MAX; i++) {
                lab_supply_t *s = &ret->supplies[ret->n_supplies];
                const char *text = NULL;
                int len = 0;

                if (ippGetValueTag(sup) == IPP_TAG_STRING)
                        text = ippGetOctetString(sup, i, &len);
                else if ((text = attr_str(sup, i)))
                        len = (int)strlen(text);
                if (!text || len <= 0 || lab_ipp_supply_parse(text, (size_t)len, s) == -EINVAL)
                        continue;
                copy_clean(s->name, sizeof s->name, attr_str(desc, i));
                if (!s->name[0])
                        copy_clean(s->name, sizeof s->name, s->type);
                ret->n_supplies++;
        }
        return true;
}

/* Input trays from printer-input-tray, octetString (or a string-like value). */
static void trays_from(ipp_t *resp, lab_printer_status_t *ret)
{
        ipp_attribute_t *a = find(resp, "printer-input-tray");
        int n = a ? ippGetCount(a) : 0;

        ret->n_trays = 0;
        for (int i = 0; i < n && ret->n_trays < LAB_PRINTER_TRAYS_MAX; i++) {
                const char *text = NULL;
                int len = 0;

                if (ippGetValueTag(a) == IPP_TAG_STRING)
                        text = ippGetOctetString(a, i, &len);
                else if ((text = attr_str(a, i)))
                        len = (int)strlen(text);
                if (text && len > 0 &&
                    lab_ipp_tray_parse(text, (size_t)len, &ret->trays[ret->n_trays]) == 0)
                        ret->n_trays++;
        }
}

/* A tray holds the loaded medium whose media-source is its name. */
static void trays_media(lab_printer_status_t *ret)
{
        for (size_t t = 0; t < ret->n_trays; t++)
                for (size_t k = 0; k < ret->n_media && !ret->trays[t].media[0]; k++)
                        if (ret->media[k].source[0] &&
                            strcmp(ret->media[k].source, ret->trays[t].name) == 0)
                                copy_clean(ret->trays[t].media, sizeof ret->trays[t].media,
                                           ret->media[k].size);
}

/* Value i of an integer attribute when it lies in [lo, hi], else -1. */
static int int_in(ipp_attribute_t *a, int i, int lo, int hi)
{
        int v;

        if (!a || ippGetValueTag(a) != IPP_TAG_INTEGER || i >= ippGetCount(a))
                return -1;
        v = ippGetInteger(a, i);
        return v >= lo && v <= hi ? v : -1;
}

/* Supplies from the CUPS marker-names/-types/-colors/-levels attributes. */
static void supplies_from_markers(ipp_t *resp, lab_printer_status_t *ret)
{
        ipp_attribute_t *names = find(resp, "marker-names"), *types = find(resp, "marker-types"),
                        *colors = find(resp, "marker-colors"),
                        *levels = find(resp, "marker-levels"),
                        *low = find(resp, "marker-low-levels"),
                        *high = find(resp, "marker-high-levels");
        int n = names ? ippGetCount(names) : 0;

        for (int i = 0; i < n && ret->n_supplies < LAB_PRINTER_SUPPLIES_MAX; i++) {
                lab_supply_t *s = &ret->supplies[ret->n_supplies];
                const char *name = attr_str(names, i);

                if (!name)
                        continue;
                *s = supply_unknown();
                copy_clean(s->name, sizeof s->name, name);
                copy_clean(s->type, sizeof s->type, attr_str(types, i));
                copy_clean(s->color, sizeof s->color, attr_str(colors, i));
                if (strcmp(s->color, "none") == 0 || strcmp(s->color, "unknown") == 0)
                        s->color[0] = '\0';
                s->kind = lab_supply_kind_of(s->type);
                /* CUPS: -1 unavailable, -2 unknown, -3 some left (RFC 3805); 0..100 percent. */
                if (attr_is_int(levels) && i < ippGetCount(levels)) {
                        int l = ippGetInteger(levels, i);
                        s->level = l >= 0 && l <= 100 ? l : -1;
                        s->some_left = l == -3;
                }
                s->low = int_in(low, i, 0, 100);
                s->high = int_in(high, i, 0, 100);
                ret->n_supplies++;
        }
}

/*
 * A media-col's size: its media-size-name, else the PWG name of its
 * media-size (into name, "" when neither), and the dimensions in hundredths
 * of mm (*x, *y may be NULL; 0 when not given).
 */
static void col_size_name(ipp_t *col, char *name, size_t size, int *x, int *y)
{
        ipp_attribute_t *dims = find(col, "media-size");
        ipp_t *dim = dims && ippGetValueTag(dims) == IPP_TAG_BEGIN_COLLECTION
                         ? ippGetCollection(dims, 0)
                         : NULL;
        ipp_attribute_t *xa = dim ? find(dim, "x-dimension") : NULL;
        ipp_attribute_t *ya = dim ? find(dim, "y-dimension") : NULL;
        int xv =
            attr_is_int(xa) && ippGetValueTag(xa) == IPP_TAG_INTEGER ? ippGetInteger(xa, 0) : 0;
        int yv =
            attr_is_int(ya) && ippGetValueTag(ya) == IPP_TAG_INTEGER ? ippGetInteger(ya, 0) : 0;

        if (xv <= 0 || yv <= 0 || xv > 1000000 || yv > 1000000)
                xv = yv = 0;
        copy_clean(name, size, attr_str(find(col, "media-size-name"), 0));
        if (!name[0] && xv > 0) {
                pwg_media_t *pwg = pwgMediaForSize(xv, yv);
                if (pwg)
                        copy_clean(name, size, pwg->pwg);
        }
        if (x)
                *x = xv;
        if (y)
                *y = yv;
}

/* A non-negative integer member of a collection, 0 when absent or wrong. */
static int col_int(ipp_t *col, const char *name)
{
        ipp_attribute_t *a = find(col, name);

        return attr_is_int(a) && ippGetValueTag(a) == IPP_TAG_INTEGER && ippGetInteger(a, 0) > 0 &&
                       ippGetInteger(a, 0) < 1000000
                   ? ippGetInteger(a, 0)
                   : 0;
}

/* Hundredths of mm in points. */
static double hmm_to_points(int v)
{
        return v * 72.0 / 2540.0;
}

/*
 * The sizes of media-col-database (once per name: it lists a size per type
 * and source), with the imageable area the margins leave. 0 or -ENOMEM.
 */
static int sizes_from_database(ipp_t *resp, lab_printer_caps_t *ret)
{
        ipp_attribute_t *db = find(resp, "media-col-database");
        int n = db && ippGetValueTag(db) == IPP_TAG_BEGIN_COLLECTION ? ippGetCount(db) : 0;
        lab_printer_size_t *v;

        if (n <= 0)
                return 0;
        v = calloc((size_t)(n < CAPS_LIST_MAX ? n : CAPS_LIST_MAX), sizeof *v);
        if (!v)
                return -ENOMEM;
        ret->sizes = v;
        for (int i = 0; i < n && ret->n_sizes < CAPS_LIST_MAX; i++) {
                ipp_t *col = ippGetCollection(db, i);
                lab_printer_size_t *d = &v[ret->n_sizes];
                int x, y, w, h;
                bool seen = false;

                if (!col)
                        continue;
                *d = (lab_printer_size_t){0};
                col_size_name(col, d->name, sizeof d->name, &x, &y);
                for (size_t k = 0; k < ret->n_sizes && !seen; k++)
                        seen = strcmp(v[k].name, d->name) == 0;
                if (!d->name[0] || x <= 0 || seen)
                        continue;
                w = x - col_int(col, "media-left-margin") - col_int(col, "media-right-margin");
                h = y - col_int(col, "media-top-margin") - col_int(col, "media-bottom-margin");
                if (w <= 0 || h <= 0)
                        continue;
                d->nominal_w = x;
                d->nominal_h = y;
                d->area_w = hmm_to_points(w);
                d->area_h = hmm_to_points(h);
                ret->n_sizes++;
        }
        return 0;
}

/* Loaded media from media-col-ready, else media-ready. */
static void media_from(ipp_t *resp, lab_printer_status_t *ret)
{
        ipp_attribute_t *cols = find(resp, "media-col-ready");
        ipp_attribute_t *names = find(resp, "media-ready");

        if (cols && ippGetValueTag(cols) == IPP_TAG_BEGIN_COLLECTION) {
                for (int i = 0; i < ippGetCount(cols) && ret->n_media < LAB_PRINTER_MEDIA_MAX;
                     i++) {
                        ipp_t *col = ippGetCollection(cols, i);
                        lab_media_ready_t *m = &ret->media[ret->n_media];

                        if (!col)
                                continue;
                        *m = (lab_media_ready_t){0};
                        col_size_name(col, m->size, sizeof m->size, NULL, NULL);
                        copy_clean(m->type, sizeof m->type, attr_str(find(col, "media-type"), 0));
                        copy_clean(m->source, sizeof m->source,
                                   attr_str(find(col, "media-source"), 0));
                        if (m->size[0])
                                ret->n_media++;
                }
                if (ret->n_media > 0)
                        return;
        }
        for (int i = 0; names && i < ippGetCount(names) && ret->n_media < LAB_PRINTER_MEDIA_MAX;
             i++) {
                const char *s = attr_str(names, i);
                if (!s || !s[0])
                        continue;
                ret->media[ret->n_media] = (lab_media_ready_t){0};
                copy_clean(ret->media[ret->n_media].size, sizeof ret->media[0].size, s);
                ret->n_media++;
        }
}

void lab_ipp_printer_status_from(ipp_t *resp, lab_printer_status_t *ret)
{
        ipp_attribute_t *a;

        a = find(resp, "printer-state");
        ret->state = attr_is_int(a) ? lab_ipp_printer_state(ippGetInteger(a, 0)) : LAB_PRINTER_IDLE;
        copy_clean(ret->message, sizeof ret->message,
                   attr_str(find(resp, "printer-state-message"), 0));

        ret->n_reasons = 0;
        a = find(resp, "printer-state-reasons");
        for (int i = 0; a && i < ippGetCount(a) && ret->n_reasons < LAB_PRINTER_REASONS_MAX; i++) {
                const char *r = attr_str(a, i);
                if (!r || !r[0] || strcmp(r, "none") == 0)
                        continue;
                lab_printer_reason_parse(r, &ret->reasons[ret->n_reasons++]);
        }

        a = find(resp, "printer-is-accepting-jobs");
        /* Required by RFC 8011; a printer that leaves it out is taken as accepting. */
        ret->accepting = a && ippGetValueTag(a) == IPP_TAG_BOOLEAN ? ippGetBoolean(a, 0) : true;

        ret->n_supplies = 0;
        if (!supplies_from_pwg(resp, ret))
                supplies_from_markers(resp, ret);
        attach_marker_messages(resp, ret);
        trays_from(resp, ret);

        ret->n_media = 0;
        media_from(resp, ret);
        trays_media(ret);

        /* marker-change-time and printer-up-time count on one clock (an up-time, or cupsd's
           epoch seconds): their difference is how old the levels are. 0 is "never". */
        ret->supplies_age = -1;
        a = find(resp, "marker-change-time");
        if (a && ippGetValueTag(a) == IPP_TAG_INTEGER && ippGetInteger(a, 0) > 0) {
                ipp_attribute_t *up = find(resp, "printer-up-time");
                if (up && ippGetValueTag(up) == IPP_TAG_INTEGER &&
                    ippGetInteger(up, 0) >= ippGetInteger(a, 0))
                        ret->supplies_age = (int64_t)ippGetInteger(up, 0) - ippGetInteger(a, 0);
        }
        a = find(resp, "printer-impressions-completed");
        ret->impressions = int_in(a, 0, 0, INT_MAX);
}

/* Add the string values of every attribute called name to *list (no duplicates). */
static int list_collect(ipp_t *resp, const char *name, char ***list, size_t *n)
{
        for (ipp_attribute_t *a = ippFindAttribute(resp, name, IPP_TAG_ZERO); a;
             a = ippFindNextAttribute(resp, name, IPP_TAG_ZERO)) {
                for (int i = 0; i < ippGetCount(a) && *n < CAPS_LIST_MAX; i++) {
                        const char *s = attr_str(a, i);
                        char **grown, *copy;

                        if (!s || !s[0] || lab_printer_caps_has(*list, *n, s))
                                continue;
                        copy = strdup(s);
                        if (!copy)
                                return -ENOMEM;
                        grown = realloc(*list, (*n + 1) * sizeof **list);
                        if (!grown) {
                                free(copy);
                                return -ENOMEM;
                        }
                        *list = grown;
                        (*list)[(*n)++] = copy;
                }
        }
        return 0;
}

/* Add printer-resolution-supported, in dpi, without duplicates. */
static int resolutions_collect(ipp_t *resp, lab_printer_caps_t *ret)
{
        ipp_attribute_t *a = find(resp, "printer-resolution-supported");

        if (!a || ippGetValueTag(a) != IPP_TAG_RESOLUTION)
                return 0;
        for (int i = 0; i < ippGetCount(a) && ret->n_resolutions < CAPS_LIST_MAX; i++) {
                int y;
                ipp_res_t units;
                int x = ippGetResolution(a, i, &y, &units);
                long dpi = units == IPP_RES_PER_CM ? ((long)x * 254 + 50) / 100 : x;
                unsigned *grown;
                bool dup = false;

                if (dpi <= 0 || dpi > 100000)
                        continue;
                for (size_t k = 0; k < ret->n_resolutions; k++)
                        dup = dup || ret->resolutions[k] == (unsigned)dpi;
                if (dup)
                        continue;
                grown = realloc(ret->resolutions, (ret->n_resolutions + 1) * sizeof *grown);
                if (!grown)
                        return -ENOMEM;
                ret->resolutions = grown;
                ret->resolutions[ret->n_resolutions++] = (unsigned)dpi;
        }
        return 0;
}

int lab_ipp_caps_from(ipp_t *resp, lab_printer_caps_t *ret)
{
        ipp_attribute_t *a;
        const char *mm;
        int r;

        r = list_collect(resp, "media-supported", &ret->media, &ret->n_media);
        if (r >= 0)
                r = list_collect(resp, "media-type-supported", &ret->media_types,
                                 &ret->n_media_types);
        if (r >= 0)
                r = list_collect(resp, "document-format-supported", &ret->formats, &ret->n_formats);
        if (r >= 0)
                r = resolutions_collect(resp, ret);
        if (r >= 0)
                r = sizes_from_database(resp, ret);
        if (r < 0) {
                lab_printer_caps_done(ret);
                return r;
        }

        ret->color = false;
        a = find(resp, "print-color-mode-supported");
        for (int i = 0; a && i < ippGetCount(a); i++) {
                const char *s = attr_str(a, i);
                ret->color = ret->color || (s && strcmp(s, "color") == 0);
        }
        if (!a) {
                a = find(resp, "color-supported");
                ret->color = a && ippGetValueTag(a) == IPP_TAG_BOOLEAN && ippGetBoolean(a, 0);
        }

        ret->scaling_none = false;
        a = find(resp, "print-scaling-supported");
        for (int i = 0; a && i < ippGetCount(a); i++) {
                const char *s = attr_str(a, i);
                ret->scaling_none = ret->scaling_none || (s && strcmp(s, "none") == 0);
        }

        mm = attr_str(find(resp, "printer-make-and-model"), 0);
        if (mm && mm[0]) {
                char buf[256];
                copy_clean(buf, sizeof buf, mm);
                ret->make_model = strdup(buf);
                if (!ret->make_model) {
                        lab_printer_caps_done(ret);
                        return -ENOMEM;
                }
        }
        return 0;
}

/* What one job group says; filled attribute by attribute. */
typedef struct job_rec_s {
        int id;           /* 0 unknown */
        const char *name; /* job-name, NULL unknown */
        int64_t ended;    /* time-at-completed (printer-up-time s), -1 unknown */
        lab_pjob_status_t status;
} job_rec_t;

/* Start an empty record. */
static void job_rec_init(job_rec_t *j)
{
        *j = (job_rec_t){.ended = -1,
                         .status = {.state = LAB_PJOB_UNKNOWN, .impressions_completed = -1}};
}

/* Join the values of a keyword attribute with commas into buf (whole values only, no "none"). */
static void join_keywords(ipp_attribute_t *a, char *buf, size_t size)
{
        size_t used = 0;

        buf[0] = '\0';
        for (int i = 0; i < ippGetCount(a); i++) {
                const char *s = attr_str(a, i);
                size_t len;

                if (!s || !s[0] || strcmp(s, "none") == 0)
                        continue;
                len = strlen(s);
                if (used + (used ? 1 : 0) + len + 1 > size)
                        break;
                if (used)
                        buf[used++] = ',';
                copy_clean(buf + used, size - used, s);
                used += len;
        }
}

/* Take one attribute of a job group into j. */
static void job_rec_add(job_rec_t *j, ipp_attribute_t *a)
{
        const char *name = ippGetName(a);

        if (!name)
                return;
        if (strcmp(name, "job-id") == 0 && attr_is_int(a))
                j->id = ippGetInteger(a, 0) > 0 ? ippGetInteger(a, 0) : 0;
        else if (strcmp(name, "job-name") == 0)
                j->name = attr_str(a, 0);
        else if (strcmp(name, "job-state") == 0 && attr_is_int(a)) {
                j->status.state = lab_ipp_job_state(ippGetInteger(a, 0));
                j->status.stopped = ippGetInteger(a, 0) == IPP_JSTATE_STOPPED;
        } else if (strcmp(name, "job-state-reasons") == 0)
                join_keywords(a, j->status.reasons, sizeof j->status.reasons);
        else if (strcmp(name, "job-state-message") == 0 && attr_str(a, 0) && attr_str(a, 0)[0])
                copy_clean(j->status.message, sizeof j->status.message, attr_str(a, 0));
        else if (strcmp(name, "job-printer-state-reasons") == 0)
                lab_ipp_job_fault_from(a, &j->status);
        else if (strcmp(name, "job-printer-state-message") == 0 && !j->status.message[0])
                /* What cupsd's filters and backend said of this job (CUPS extension). */
                copy_clean(j->status.message, sizeof j->status.message, attr_str(a, 0));
        else if (strcmp(name, "time-at-completed") == 0 && ippGetValueTag(a) == IPP_TAG_INTEGER)
                j->ended = ippGetInteger(a, 0) >= 0 ? ippGetInteger(a, 0) : -1;
        else if (strcmp(name, "job-impressions-completed") == 0 && attr_is_int(a))
                j->status.impressions_completed =
                    ippGetInteger(a, 0) >= 0 ? ippGetInteger(a, 0) : -1;
}

void lab_ipp_job_fault_from(ipp_attribute_t *reasons, lab_pjob_status_t *ret)
{
        ret->fault[0] = '\0';
        join_keywords(reasons, ret->printer_reasons, sizeof ret->printer_reasons);
        for (int i = 0; reasons && i < ippGetCount(reasons); i++) {
                const char *v = attr_str(reasons, i), *kw;
                lab_printer_reason_t r;
                lab_severity_t sev;

                if (!v)
                        continue;
                lab_printer_reason_parse(v, &r);
                if (lab_printer_fault_of(&r, &kw, &sev) && sev == LAB_SEVERITY_ERROR) {
                        snprintf(ret->fault, sizeof ret->fault, "%s", kw);
                        return;
                }
        }
}

void lab_ipp_job_status_from(ipp_t *resp, lab_pjob_status_t *ret)
{
        job_rec_t j;

        job_rec_init(&j);
        for (ipp_attribute_t *a = ippFirstAttribute(resp); a; a = ippNextAttribute(resp))
                if (ippGetGroupTag(a) == IPP_TAG_JOB)
                        job_rec_add(&j, a);
        *ret = j.status;
        copy_clean(ret->job_name, sizeof ret->job_name, j.name);
}

/* Whether a job record is of a finished job with the time it ended. */
static bool job_rec_ended(const job_rec_t *j)
{
        return j->ended >= 0 &&
               (j->status.state == LAB_PJOB_COMPLETED || j->status.state == LAB_PJOB_CANCELED ||
                j->status.state == LAB_PJOB_ABORTED);
}

int lab_ipp_find_job(ipp_t *resp, const char *job_name, int *ret_job_id,
                     lab_pjob_status_t *ret_status, int64_t *ret_oldest_end)
{
        job_rec_t cur, best;
        bool in_job = false;
        int64_t oldest = -1;

        job_rec_init(&cur);
        job_rec_init(&best);
        /* One pass; a NULL attribute at the end flushes the last job. */
        for (ipp_attribute_t *a = ippFirstAttribute(resp);; a = ippNextAttribute(resp)) {
                bool job_attr = a && ippGetGroupTag(a) == IPP_TAG_JOB && ippGetName(a);

                if (in_job && !job_attr) {
                        if (cur.id > 0 && cur.name && strcmp(cur.name, job_name) == 0 &&
                            cur.id > best.id)
                                best = cur;
                        if (job_rec_ended(&cur) && (oldest < 0 || cur.ended < oldest))
                                oldest = cur.ended;
                        job_rec_init(&cur);
                        in_job = false;
                }
                if (!a)
                        break;
                if (job_attr) {
                        in_job = true;
                        job_rec_add(&cur, a);
                }
        }
        if (ret_oldest_end)
                *ret_oldest_end = oldest;
        if (best.id <= 0)
                return -ENOENT;
        *ret_job_id = best.id;
        *ret_status = best.status;
        return 0;
}

int lab_ipp_up_time(ipp_t *resp, int64_t *ret_up, bool *ret_is_uptime)
{
        /* Ten years in seconds: longer than any printer stays up. */
        const int64_t decade = 10LL * 365 * 24 * 3600, day = 24 * 3600;
        ipp_attribute_t *up = find(resp, "printer-up-time");
        ipp_attribute_t *cur = find(resp, "printer-current-time");
        int64_t v;

        if (!up || ippGetValueTag(up) != IPP_TAG_INTEGER || ippGetInteger(up, 0) < 0)
                return -ENOENT;
        v = ippGetInteger(up, 0);
        *ret_up = v;
        if (cur && ippGetValueTag(cur) == IPP_TAG_DATE && ippGetDate(cur, 0)) {
                int64_t wall = (int64_t)ippDateToTime(ippGetDate(cur, 0));
                *ret_is_uptime = !(wall > day && v > wall - day && v < wall + day);
        } else {
                *ret_is_uptime = v < decade;
        }
        return 0;
}
