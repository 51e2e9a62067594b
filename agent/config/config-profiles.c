/*
 * config-profiles.c - the lab's colour registry (registry.yaml): strict loader and lookups.
 *
 * Why: which ICC profile, intent and black point compensation a printer
 * model uses on a paper, and the model's native pixel sizes, are what make a
 * print right. Lab IT edits them by hand, so the registry gets exactly the
 * strictness of labagent.yaml: it is read with the same YAML reader and
 * decoded by the same table-driven walker (config-private.h), so unknown
 * keys, wrong types, missing keys, duplicates, bad words and out-of-range
 * numbers come out as the same "file:line:col: key.path: message [keyword]"
 * lines. What a table cannot say (portrait media, 16 bits only for TIFF,
 * non-empty tables) is checked here, after the walk, against the same nodes.
 * Relative ICC paths are made absolute against the registry's directory.
 * This file never opens an ICC file (render-color.c does) and never logs.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config-private.h"
#include "config-profiles.h"

_Static_assert(sizeof(lab_encoding_t) == sizeof(int), "enums are stored as int");
_Static_assert(sizeof(lab_intent_t) == sizeof(int), "enums are stored as int");
_Static_assert(sizeof(unsigned) == sizeof(int), "depth is stored as an int-sized word");

/* ---- validators ---- */

/* True when s is 1..64 characters from a-z, 0-9 (A-Z too when upper) and extra. */
static bool is_token(const char *s, bool upper, const char *extra)
{
        size_t n = strlen(s);

        if (n == 0 || n > 64)
                return false;
        for (; *s; s++)
                if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
                      (upper && *s >= 'A' && *s <= 'Z') || strchr(extra, *s)))
                        return false;
        return true;
}

/* models[].name: the same characters as printers[].name, which names models. */
static const char *check_model_name(const char *s)
{
        return is_token(s, true, "_.-")
                   ? NULL
                   : "must be 1 to 64 characters from A-Z, a-z, 0-9, '_', '.' and '-'";
}

/* media[].name, papers[].media_type: PWG/IPP keywords (na_index-4x6_4x6in, photographic-glossy). */
static const char *check_keyword(const char *s)
{
        return is_token(s, false, "_.-")
                   ? NULL
                   : "must be 1 to 64 characters from a-z, 0-9, '_', '.' and '-' "
                     "(a PWG 5101.1 name)";
}

/* ---- the schema ---- */

/* clang-format off */

static const lab_config_word_t encodings[] = {
        { "jpeg", LAB_ENCODING_JPEG },
        { "tiff", LAB_ENCODING_TIFF },
        { "pwg", LAB_ENCODING_PWG },
        { NULL, 0 },
};

static const lab_config_word_t intents[] = {
        { "perceptual", LAB_INTENT_PERCEPTUAL },
        { "relative", LAB_INTENT_RELATIVE },
        { "saturation", LAB_INTENT_SATURATION },
        { "absolute", LAB_INTENT_ABSOLUTE },
        { NULL, 0 },
};

/* Output depth is a word, so 12 is "allowed: 8, 16" rather than a misleading range. */
static const lab_config_word_t depths[] = {
        { "8", 8 },
        { "16", 16 },
        { NULL, 0 },
};

#define MEDIA(f) offsetof(lab_media_t, f)
#define PAPER(f) offsetof(lab_paper_profile_t, f)
#define MODEL(f) offsetof(lab_model_t, f)

static const lab_schema_key_t media_keys[] = {
        { .name = "name", .type = LAB_KEY_STRING, .required = true, .offset = MEDIA(name),
          .check = check_keyword },
        { .name = "width", .type = LAB_KEY_UINT, .required = true, .offset = MEDIA(width),
          .min = 1, .max = 100000 },
        { .name = "height", .type = LAB_KEY_UINT, .required = true, .offset = MEDIA(height),
          .min = 1, .max = 100000 },
        { .name = "dpi", .type = LAB_KEY_UINT, .required = true, .offset = MEDIA(dpi),
          .min = 72, .max = 2400 },
};

static const lab_schema_key_t paper_keys[] = {
        { .name = "media_type", .type = LAB_KEY_STRING, .required = true,
          .offset = PAPER(media_type), .check = check_keyword },
        { .name = "icc", .type = LAB_KEY_STRING, .required = true, .offset = PAPER(icc) },
        { .name = "intent", .type = LAB_KEY_ENUM, .required = true, .offset = PAPER(intent),
          .words = intents },
        { .name = "bpc", .type = LAB_KEY_BOOL, .required = true, .offset = PAPER(bpc) },
        { .name = "depth", .type = LAB_KEY_ENUM, .offset = PAPER(depth), .words = depths,
          .def_enum = 8 },
};

static const lab_schema_section_t media_section = { media_keys, ELEMENTSOF(media_keys), NULL };
static const lab_schema_section_t paper_section = { paper_keys, ELEMENTSOF(paper_keys), NULL };

static const lab_schema_key_t model_keys[] = {
        { .name = "name", .type = LAB_KEY_STRING, .required = true, .offset = MODEL(name),
          .check = check_model_name },
        { .name = "encoding", .type = LAB_KEY_ENUM, .required = true, .offset = MODEL(encoding),
          .words = encodings },
        { .name = "media", .type = LAB_KEY_LIST, .required = true, .offset = MODEL(media),
          .count_offset = MODEL(n_media), .element_size = sizeof(lab_media_t),
          .section = &media_section, .unique = "name" },
        { .name = "papers", .type = LAB_KEY_LIST, .required = true, .offset = MODEL(papers),
          .count_offset = MODEL(n_papers), .element_size = sizeof(lab_paper_profile_t),
          .section = &paper_section, .unique = "media_type" },
};

static const lab_schema_section_t model_section = { model_keys, ELEMENTSOF(model_keys), NULL };

static const lab_schema_key_t root_keys[] = {
        { .name = "models", .type = LAB_KEY_LIST, .required = true,
          .offset = offsetof(lab_registry_t, models),
          .count_offset = offsetof(lab_registry_t, n_models),
          .element_size = sizeof(lab_model_t), .section = &model_section, .unique = "name" },
};

static const lab_schema_section_t root_section = { root_keys, ELEMENTSOF(root_keys), NULL };

/* clang-format on */

/* ---- what the table cannot say ---- */

/* Report a problem at node n under path, with a fixed message. */
static void problem_at(lab_config_ctx_t *ctx, const lab_ynode_t *n, const char *path,
                       const char *keyword, const char *message)
{
        lab_config_problem_add(ctx, n->line, n->column, path, keyword, "%s", message);
}

/* The list node under key in mapping m, or NULL unless it is a sequence. */
static const lab_ynode_t *list_get(const lab_ynode_t *m, const char *key)
{
        const lab_ynode_t *n = lab_ynode_map_get(m, key);

        return n && n->type == LAB_YNODE_SEQUENCE ? n : NULL;
}

/* True when the scalar under key in m decoded as a word of words (so its field is real). */
static bool word_decoded(const lab_ynode_t *m, const char *key, const lab_config_word_t *words)
{
        const lab_ynode_t *n = lab_ynode_map_get(m, key);

        return n && n->type == LAB_YNODE_SCALAR && lab_config_word_lookup(words, n->value) >= 0;
}

/* Check model i (decoded into m from node mn): non-empty tables, portrait media, depth 16. */
static void check_model(lab_config_ctx_t *ctx, const lab_model_t *m, const lab_ynode_t *mn,
                        size_t i)
{
        const lab_ynode_t *media = list_get(mn, "media"), *papers = list_get(mn, "papers");
        bool tiff = m->encoding == LAB_ENCODING_TIFF;
        bool known = word_decoded(mn, "encoding", encodings);
        char path[128];

        if (media && media->n_items == 0) {
                snprintf(path, sizeof path, "models[%zu].media", i);
                problem_at(ctx, media, path, "bad_value",
                           "must list at least one media size; an empty table prints nothing");
        }
        if (papers && papers->n_items == 0) {
                snprintf(path, sizeof path, "models[%zu].papers", i);
                problem_at(ctx, papers, path, "bad_value",
                           "must list at least one paper profile; an empty table prints nothing");
        }

        for (size_t j = 0; media && j < m->n_media && j < media->n_items; j++) {
                const lab_media_t *s = &m->media[j];
                const lab_ynode_t *w = lab_ynode_map_get(media->items[j], "width");

                /* 0 is outside 1..100000: the walker already reported that value. */
                if (!w || s->width == 0 || s->height == 0 || s->width <= s->height)
                        continue;
                snprintf(path, sizeof path, "models[%zu].media[%zu].width", i, j);
                lab_config_problem_add(ctx, w->line, w->column, path, "bad_value",
                                       "width %u is greater than height %u; media sizes are "
                                       "portrait (width <= height), swap them",
                                       s->width, s->height);
        }

        for (size_t j = 0; papers && known && !tiff && j < m->n_papers && j < papers->n_items;
             j++) {
                const lab_ynode_t *d = lab_ynode_map_get(papers->items[j], "depth");

                if (!d || m->papers[j].depth != 16 ||
                    !word_decoded(papers->items[j], "depth", depths))
                        continue;
                snprintf(path, sizeof path, "models[%zu].papers[%zu].depth", i, j);
                lab_config_problem_add(ctx, d->line, d->column, path, "bad_value",
                                       "16 bits per channel needs encoding tiff; this model's "
                                       "encoding is %s",
                                       lab_encoding_name(m->encoding));
        }
}

/* Run check_model over every model the walker decoded, aligned with the tree by index. */
static void check_registry(lab_config_ctx_t *ctx, const lab_registry_t *r, const lab_ynode_t *root)
{
        const lab_ynode_t *models = list_get(root, "models");

        for (size_t i = 0; models && i < r->n_models && i < models->n_items; i++)
                if (models->items[i]->type == LAB_YNODE_MAPPING)
                        check_model(ctx, &r->models[i], models->items[i], i);
}

/* ---- relative ICC paths ---- */

/* Make every relative icc path absolute against the directory holding file. */
static int resolve_icc_paths(lab_registry_t *r, const char *file)
{
        _cleanup_free_ char *dir = NULL;
        const char *slash = strrchr(file, '/');

        if (slash == file)
                dir = strdup("/");
        else if (slash)
                dir = strndup(file, (size_t)(slash - file));
        else
                dir = strdup(".");
        if (!dir)
                return -ENOMEM;
        if (dir[0] != '/') {
                _cleanup_free_ char *cwd = getcwd(NULL, 0);
                char *abs;
                const char *rel = dir;

                if (!cwd)
                        return -errno;
                while (rel[0] == '.' && rel[1] == '/')
                        rel += 2;
                if (asprintf(&abs, "%s%s%s", cwd, strcmp(rel, ".") == 0 ? "" : "/",
                             strcmp(rel, ".") == 0 ? "" : rel) < 0)
                        return -ENOMEM;
                free(dir);
                dir = abs;
        }

        for (size_t i = 0; i < r->n_models; i++)
                for (size_t j = 0; j < r->models[i].n_papers; j++) {
                        lab_paper_profile_t *p = &r->models[i].papers[j];
                        const char *rel = p->icc;
                        const char *sep = strcmp(dir, "/") == 0 ? "" : "/";
                        char *abs;

                        if (!rel || rel[0] == '/')
                                continue;
                        while (rel[0] == '.' && rel[1] == '/')
                                rel += 2;
                        if (asprintf(&abs, "%s%s%s", dir, sep, rel) < 0)
                                return -ENOMEM;
                        free(p->icc);
                        p->icc = abs;
                }
        return 0;
}

/* ---- the problem list and the file ---- */

LAB_DEFINE_CLEANUP(lab_registry_t *, lab_registry_free)

int lab_registry_load_buffer(const char *name, const char *buf, size_t len, lab_registry_t **ret,
                             lab_config_problems_t *problems)
{
        lab_config_ctx_t ctx = {
            .file = name ? name : "(buffer)",
            .problems = problems,
            .first = problems->n,
        };
        _cleanup_(lab_ynode_freep) lab_ynode_t *root = NULL;
        _cleanup_(lab_registry_freep) lab_registry_t *r = NULL;
        bool decode;
        int k;

        *ret = NULL;
        k = lab_config_load_begin(&ctx, "profile registry", buf, len, &root, &decode);
        if (k < 0)
                return k;

        r = calloc(1, sizeof *r);
        if (!r)
                return -ENOMEM;
        r->path = strdup(ctx.file);
        if (!r->path)
                return -ENOMEM;
        if (decode) {
                k = lab_schema_decode(&ctx, &root_section, root, r,
                                      "the file is empty; expected a mapping with the key models",
                                      "a mapping with the key models");
                if (k < 0)
                        return k;
                if (root && root->type == LAB_YNODE_MAPPING)
                        check_registry(&ctx, r, root);
                if (ctx.error < 0)
                        return ctx.error;
        }

        k = lab_config_load_end(&ctx);
        if (k < 0)
                return k;
        k = resolve_icc_paths(r, ctx.file);
        if (k < 0)
                return k;
        *ret = TAKE_PTR(r);
        return 0;
}

int lab_registry_load(const char *path, lab_registry_t **ret, lab_config_problems_t *problems)
{
        lab_config_ctx_t ctx = {.file = path, .problems = problems, .first = problems->n};
        _cleanup_free_ char *buf = NULL;
        size_t len = 0;
        int r;

        *ret = NULL;
        r = lab_config_read_file(&ctx, "profile registry", &buf, &len);
        if (r < 0)
                return r;
        return lab_registry_load_buffer(path, buf, len, ret, problems);
}

void lab_registry_free(lab_registry_t *r)
{
        if (!r)
                return;
        lab_schema_free(&root_section, r);
        free(r->path);
        free(r);
}

/* ---- lookups ---- */

const lab_model_t *lab_registry_model(const lab_registry_t *r, const char *model)
{
        for (size_t i = 0; r && model && i < r->n_models; i++)
                if (strcmp(r->models[i].name, model) == 0)
                        return &r->models[i];
        return NULL;
}

const lab_media_t *lab_model_media(const lab_model_t *m, const char *media_name)
{
        for (size_t i = 0; m && media_name && i < m->n_media; i++)
                if (strcmp(m->media[i].name, media_name) == 0)
                        return &m->media[i];
        return NULL;
}

const lab_paper_profile_t *lab_model_paper(const lab_model_t *m, const char *media_type)
{
        for (size_t i = 0; m && media_type && i < m->n_papers; i++)
                if (strcmp(m->papers[i].media_type, media_type) == 0)
                        return &m->papers[i];
        return NULL;
}

const char *lab_intent_name(lab_intent_t intent)
{
        for (const lab_config_word_t *w = intents; w->word; w++)
                if (w->value == (int)intent)
                        return w->word;
        return "unknown";
}

const char *lab_encoding_mime(lab_encoding_t encoding)
{
        return encoding == LAB_ENCODING_TIFF  ? "image/tiff"
               : encoding == LAB_ENCODING_PWG ? "image/pwg-raster"
                                              : "image/jpeg";
}

const char *lab_encoding_name(lab_encoding_t encoding)
{
        for (const lab_config_word_t *w = encodings; w->word; w++)
                if (w->value == (int)encoding)
                        return w->word;
        return "unknown";
}
