/*
 * test-profiles.c - the colour registry loader: the shipped sample set, and
 * every class of mistake lab IT can make in registry.yaml.
 *
 * Why: the registry decides the pixels and the colour of every print. The
 * shipped file must load cleanly with the exact media sizes the render tests
 * rely on, and each bad registry must produce the exact
 * "file:line:col: key.path: message [keyword]" lines documented in
 * docs/profiles.md, with no registry escaping.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config-profiles.h"
#include "problems.h"
#include "testutil.h"

#define NAME      "/etc/labagent/profiles/registry.yaml"
#define SHIPPED   LAB_SOURCE_DIR "/profiles/registry.yaml"
#define COLORD    "/usr/share/color/icc/colord/"
#define GS_CMYK   "/usr/share/color/icc/ghostscript/default_cmyk.icc"
#define FREE_SRGB "/usr/share/color/icc/sRGB.icc"

/* One valid model; 13 lines, so bad parts appended start at line 14. */
#define MODEL                                                                                      \
        "models:\n"                                                                                \
        "  - name: m1\n"                                                                           \
        "    encoding: jpeg\n"                                                                     \
        "    media:\n"                                                                             \
        "      - name: na_index-4x6_4x6in\n"                                                       \
        "        width: 1200\n"                                                                    \
        "        height: 1800\n"                                                                   \
        "        dpi: 300\n"                                                                       \
        "    papers:\n"                                                                            \
        "      - media_type: photographic-glossy\n"                                                \
        "        icc: /x.icc\n"                                                                    \
        "        intent: perceptual\n"                                                             \
        "        bpc: true\n"

/* Load yaml as NAME and assert it fails with -EINVAL and exactly the lines in want. */
static void expect_bad(const char *yaml, const char *const *want, size_t n)
{
        lab_config_problems_t problems = {0};
        lab_registry_t *r = (lab_registry_t *)&problems; /* must be reset to NULL */
        int k;

        k = lab_registry_load_buffer(NAME, yaml, strlen(yaml), &r, &problems);
        if (k != -EINVAL)
                lab_test_dump_problems(&problems);
        assert_int_equal(k, -EINVAL);
        assert_null(r);
        lab_test_assert_problems(&problems, want, n);
        lab_config_problems_clear(&problems);
}

#define EXPECT_BAD(yaml, ...)                                                                      \
        do {                                                                                       \
                const char *const _want[] = {__VA_ARGS__};                                         \
                expect_bad(yaml, _want, sizeof _want / sizeof _want[0]);                           \
        } while (0)

/* Load yaml under name and assert it succeeds without problems. */
static lab_registry_t *expect_good(const char *name, const char *yaml)
{
        lab_config_problems_t problems = {0};
        lab_registry_t *r = NULL;
        int k;

        k = lab_registry_load_buffer(name, yaml, strlen(yaml), &r, &problems);
        if (k != 0 || problems.n != 0)
                lab_test_dump_problems(&problems);
        assert_int_equal(k, 0);
        assert_int_equal(problems.n, 0);
        assert_non_null(r);
        return r;
}

/* Load the shipped profiles/registry.yaml, asserting zero problems. */
static lab_registry_t *load_shipped(void)
{
        lab_config_problems_t problems = {0};
        lab_registry_t *r = NULL;
        int k;

        k = lab_registry_load(SHIPPED, &r, &problems);
        if (k != 0 || problems.n != 0)
                lab_test_dump_problems(&problems);
        assert_int_equal(k, 0);
        assert_int_equal(problems.n, 0);
        assert_non_null(r);
        assert_string_equal(r->path, SHIPPED);
        return r;
}

/* Assert model m has media name at exactly width x height and dpi. */
static void assert_media(const lab_model_t *m, const char *name, unsigned width, unsigned height,
                         unsigned dpi)
{
        const lab_media_t *s = lab_model_media(m, name);

        if (!s)
                fail_msg("%s has no media %s", m->name, name);
        assert_string_equal(s->name, name);
        assert_int_equal(s->width, width);
        assert_int_equal(s->height, height);
        assert_int_equal(s->dpi, dpi);
}

/* Assert model m's paper media_type uses icc with intent, bpc and depth. */
static void assert_paper(const lab_model_t *m, const char *media_type, const char *icc,
                         lab_intent_t intent, bool bpc, unsigned depth)
{
        const lab_paper_profile_t *p = lab_model_paper(m, media_type);

        if (!p)
                fail_msg("%s has no paper %s", m->name, media_type);
        assert_string_equal(p->media_type, media_type);
        assert_string_equal(p->icc, icc);
        assert_int_equal(p->intent, intent);
        assert_int_equal(p->bpc, bpc);
        assert_int_equal(p->depth, depth);
}

/* ---- the shipped sample set ---- */

static void test_shipped_media_tables(void **state)
{
        lab_registry_t *r = load_shipped();
        const lab_model_t *m;

        (void)state;
        assert_int_equal(r->n_models, 5);

        m = lab_registry_model(r, "dnp-ds620");
        assert_non_null(m);
        assert_int_equal(m->encoding, LAB_ENCODING_JPEG);
        assert_int_equal(m->n_media, 3);
        assert_media(m, "na_index-4x6_4x6in", 1240, 1844, 300);
        assert_media(m, "na_5x7_5x7in", 1548, 2138, 300);
        assert_media(m, "custom_6x8_6x8in", 1844, 2436, 300);

        m = lab_registry_model(r, "mitsubishi-cp-d90");
        assert_non_null(m);
        assert_int_equal(m->encoding, LAB_ENCODING_JPEG);
        assert_int_equal(m->n_media, 3);
        assert_media(m, "na_index-4x6_4x6in", 1226, 1852, 300);
        assert_media(m, "na_5x7_5x7in", 1550, 2127, 300);
        assert_media(m, "custom_6x8_6x8in", 1852, 2427, 300);

        m = lab_registry_model(r, "ipp-everywhere");
        assert_non_null(m);
        assert_int_equal(m->encoding, LAB_ENCODING_PWG);
        assert_int_equal(m->n_media, 5);
        assert_media(m, "na_index-4x6_4x6in", 1200, 1800, 300);
        assert_media(m, "na_5x7_5x7in", 1500, 2100, 300);
        assert_media(m, "na_govt-letter_8x10in", 2400, 3000, 300);
        assert_media(m, "custom_8x8_8x8in", 2400, 2400, 300);
        assert_media(m, "custom_4x12_4x12in", 1200, 3600, 300);

        m = lab_registry_model(r, "cmyk-proofer");
        assert_non_null(m);
        assert_int_equal(m->encoding, LAB_ENCODING_TIFF);
        assert_int_equal(m->n_media, 2);
        assert_media(m, "na_govt-letter_8x10in", 2400, 3000, 300);
        assert_media(m, "na_letter_8.5x11in", 2550, 3300, 300);

        m = lab_registry_model(r, "noritsu-qss-3701");
        assert_non_null(m);
        assert_int_equal(m->encoding, LAB_ENCODING_JPEG);
        assert_int_equal(m->n_media, 2);
        assert_media(m, "na_index-4x6_4x6in", 1200, 1800, 300);
        assert_media(m, "na_5x7_5x7in", 1500, 2100, 300);

        lab_registry_free(r);
}

static void test_shipped_papers(void **state)
{
        lab_registry_t *r = load_shipped();
        const lab_model_t *m;

        (void)state;
        m = lab_registry_model(r, "dnp-ds620");
        assert_int_equal(m->n_papers, 2);
        assert_paper(m, "photographic-glossy", COLORD "AdobeRGB1998.icc", LAB_INTENT_PERCEPTUAL,
                     true, 8);
        assert_paper(m, "photographic-matte", FREE_SRGB, LAB_INTENT_RELATIVE, true, 8);

        m = lab_registry_model(r, "mitsubishi-cp-d90");
        assert_int_equal(m->n_papers, 2);
        assert_paper(m, "photographic-glossy", COLORD "sRGB.icc", LAB_INTENT_PERCEPTUAL, true, 8);
        assert_paper(m, "photographic-matte", COLORD "AdobeRGB1998.icc", LAB_INTENT_SATURATION,
                     false, 8);

        m = lab_registry_model(r, "ipp-everywhere");
        assert_int_equal(m->n_papers, 2);
        assert_paper(m, "photographic-glossy", FREE_SRGB, LAB_INTENT_PERCEPTUAL, true, 8);
        assert_paper(m, "photographic-matte", FREE_SRGB, LAB_INTENT_RELATIVE, true, 8);

        m = lab_registry_model(r, "cmyk-proofer");
        assert_int_equal(m->n_papers, 3);
        assert_paper(m, "photographic-glossy", GS_CMYK, LAB_INTENT_RELATIVE, true, 16);
        assert_paper(m, "photographic-semi-gloss", GS_CMYK, LAB_INTENT_ABSOLUTE, false, 16);
        assert_paper(m, "stationery", GS_CMYK, LAB_INTENT_PERCEPTUAL, true, 8);

        lab_registry_free(r);
}

/* Every product media of packaging/labagent.yaml exists on the two dye-sub models. */
static void test_shipped_covers_sample_products(void **state)
{
        lab_registry_t *r = load_shipped();
        const char *const models[] = {"dnp-ds620", "mitsubishi-cp-d90", "ipp-everywhere"};

        (void)state;
        for (size_t i = 0; i < sizeof models / sizeof models[0]; i++) {
                const lab_model_t *m = lab_registry_model(r, models[i]);

                assert_non_null(lab_model_media(m, "na_index-4x6_4x6in"));
                assert_non_null(lab_model_media(m, "na_5x7_5x7in"));
                assert_non_null(lab_model_paper(m, "photographic-glossy"));
                assert_non_null(lab_model_paper(m, "photographic-matte"));
        }
        lab_registry_free(r);
}

static void test_lookups_unknown(void **state)
{
        lab_registry_t *r = load_shipped();
        const lab_model_t *m = lab_registry_model(r, "dnp-ds620");

        (void)state;
        assert_null(lab_registry_model(r, "dnp-ds820"));
        assert_null(lab_registry_model(r, "DNP-DS620"));
        assert_null(lab_registry_model(r, ""));
        assert_null(lab_registry_model(r, NULL));
        assert_null(lab_registry_model(NULL, "dnp-ds620"));
        assert_null(lab_model_media(m, "na_letter_8.5x11in"));
        assert_null(lab_model_media(m, NULL));
        assert_null(lab_model_media(NULL, "na_5x7_5x7in"));
        assert_null(lab_model_paper(m, "photographic-semi-gloss"));
        assert_null(lab_model_paper(m, NULL));
        assert_null(lab_model_paper(NULL, "photographic-glossy"));
        lab_registry_free(r);
        lab_registry_free(NULL);
}

static void test_names(void **state)
{
        (void)state;
        assert_string_equal(lab_intent_name(LAB_INTENT_PERCEPTUAL), "perceptual");
        assert_string_equal(lab_intent_name(LAB_INTENT_RELATIVE), "relative");
        assert_string_equal(lab_intent_name(LAB_INTENT_SATURATION), "saturation");
        assert_string_equal(lab_intent_name(LAB_INTENT_ABSOLUTE), "absolute");
        assert_string_equal(lab_intent_name((lab_intent_t)7), "unknown");
        assert_string_equal(lab_encoding_name(LAB_ENCODING_JPEG), "jpeg");
        assert_string_equal(lab_encoding_name(LAB_ENCODING_TIFF), "tiff");
        assert_string_equal(lab_encoding_name(LAB_ENCODING_PWG), "pwg");
}

/* ---- relative ICC paths ---- */

/* A registry whose one paper uses icc (a YAML scalar). */
#define WITH_ICC(icc)                                                                              \
        "models:\n"                                                                                \
        "  - name: m1\n"                                                                           \
        "    encoding: tiff\n"                                                                     \
        "    media: [ { name: a, width: 1, height: 1, dpi: 300 } ]\n"                              \
        "    papers:\n"                                                                            \
        "      - { media_type: p, icc: " icc ", intent: absolute, bpc: false, depth: 16 }\n"

/* Load WITH_ICC(icc) as name and assert the resolved path. */
static void expect_icc(const char *name, const char *yaml, const char *want)
{
        lab_registry_t *r = expect_good(name, yaml);

        assert_int_equal(r->n_models, 1);
        assert_int_equal(r->models[0].n_papers, 1);
        assert_string_equal(r->models[0].papers[0].icc, want);
        assert_int_equal(r->models[0].papers[0].depth, 16);
        lab_registry_free(r);
}

static void test_relative_icc(void **state)
{
        char *cwd = getcwd(NULL, 0), *want;

        (void)state;
        assert_non_null(cwd);
        expect_icc(NAME, WITH_ICC("vendor/canson-rag.icc"),
                   "/etc/labagent/profiles/vendor/canson-rag.icc");
        expect_icc(NAME, WITH_ICC("./canson-rag.icc"), "/etc/labagent/profiles/canson-rag.icc");
        expect_icc(NAME, WITH_ICC("../shared.icc"), "/etc/labagent/profiles/../shared.icc");
        expect_icc(NAME, WITH_ICC("/opt/vendor/x.icm"), "/opt/vendor/x.icm");
        expect_icc("/registry.yaml", WITH_ICC("x.icc"), "/x.icc");

        /* A registry named relative to the working directory still yields absolute paths. */
        assert_true(asprintf(&want, "%s/x.icc", cwd) > 0);
        expect_icc("registry.yaml", WITH_ICC("x.icc"), want);
        free(want);
        assert_true(asprintf(&want, "%s/profiles/x.icc", cwd) > 0);
        expect_icc("./profiles/registry.yaml", WITH_ICC("./x.icc"), want);
        free(want);
        free(cwd);
}

/* The same, through lab_registry_load on a real file. */
static void test_relative_icc_file(void **state)
{
        char *dir = lab_test_mkdtemp("profiles"), *path = lab_test_path(dir, "registry.yaml");
        char *want = lab_test_path(dir, "vendor/rag.icc");
        lab_config_problems_t problems = {0};
        lab_registry_t *r = NULL;

        (void)state;
        lab_test_write_string(path, WITH_ICC("vendor/rag.icc"));
        assert_int_equal(lab_registry_load(path, &r, &problems), 0);
        assert_int_equal(problems.n, 0);
        assert_string_equal(r->models[0].papers[0].icc, want);
        lab_registry_free(r);
        lab_test_rm_rf(dir);
        free(want);
        free(path);
        free(dir);
}

/* ---- bad registries, one class each ---- */

static void test_bad_file(void **state)
{
        lab_config_problems_t problems = {0};
        lab_registry_t *r = NULL;
        char *big;

        (void)state;
        assert_int_equal(lab_registry_load("/nonexistent/registry.yaml", &r, &problems), -ENOENT);
        assert_null(r);
        assert_int_equal(lab_registry_load("/", &r, &problems), -EISDIR);
        assert_null(r);
        {
                const char *const want[] = {
                    "/nonexistent/registry.yaml: No such file or directory [config_unreadable]",
                    "/: Is a directory [config_unreadable]",
                };
                lab_test_assert_problems(&problems, want, 2);
        }
        lab_config_problems_clear(&problems);

        big = calloc(1, 1024 * 1024 + 2);
        assert_non_null(big);
        memset(big, '#', 1024 * 1024 + 1);
        assert_int_equal(lab_registry_load_buffer(NAME, big, strlen(big), &r, &problems), -EFBIG);
        assert_null(r);
        {
                const char *const want[] = {
                    NAME ": file is larger than 1048576 bytes (1 MiB); this is not a profile "
                         "registry [file_too_large]",
                };
                lab_test_assert_problems(&problems, want, 1);
        }
        lab_config_problems_clear(&problems);
        free(big);
}

static void test_bad_document(void **state)
{
        (void)state;
        EXPECT_BAD("", NAME ":1:1: the file is empty; expected a mapping with the key models "
                            "[wrong_type]");
        EXPECT_BAD("- dnp-ds620\n",
                   NAME ":1:1: expected a mapping with the key models, got a list [wrong_type]");
        EXPECT_BAD("models: [\n",
                   NAME ":2:1: did not find expected node content (while parsing a flow node at "
                        "line 2, column 1) [yaml_syntax]");
        EXPECT_BAD("printers: []\n", NAME ":1:1: models: required key missing [missing_key]",
                   NAME ":1:1: printers: unknown key; known keys here: models [unknown_key]");
        EXPECT_BAD("models: {}\n",
                   NAME ":1:9: models: expected a list, got a mapping [wrong_type]");
        EXPECT_BAD(MODEL "---\nmodels: []\n",
                   NAME ":14:1: a second YAML document starts here; the configuration must be "
                        "one document [multiple_documents]");
}

static void test_unknown_keys(void **state)
{
        (void)state;
        EXPECT_BAD(MODEL "        intnet: relative\n"
                         "    vendor: dnp\n"
                         "models2: []\n",
                   NAME ":14:9: models[0].papers[0].intnet: unknown key; did you mean 'intent'? "
                        "[unknown_key]",
                   NAME ":15:5: models[0].vendor: unknown key; known keys here: name, encoding, "
                        "media, papers [unknown_key]",
                   NAME ":16:1: models2: unknown key; did you mean 'models'? [unknown_key]");
}

static void test_wrong_types(void **state)
{
        (void)state;
        EXPECT_BAD("models:\n"
                   "  - name: m1\n"
                   "    encoding: [jpeg]\n"
                   "    media:\n"
                   "      - { name: a, width: \"1240\", height: 1.5, dpi: 300 }\n"
                   "      - na_5x7_5x7in\n"
                   "    papers:\n"
                   "      - { media_type: p, icc: /x.icc, intent: perceptual, bpc: yes }\n"
                   "      - { media_type: q, icc: ~, intent: perceptual, bpc: \"true\" }\n",
                   NAME ":3:15: models[0].encoding: expected a word, got a list [wrong_type]",
                   NAME ":5:27: models[0].media[0].width: expected an integer, got a quoted "
                        "string [wrong_type]",
                   NAME ":5:43: models[0].media[0].height: expected an integer, got '1.5' "
                        "[wrong_type]",
                   NAME ":6:9: models[0].media[1]: expected a mapping, got 'na_5x7_5x7in' "
                        "[wrong_type]",
                   NAME ":8:64: models[0].papers[0].bpc: expected true or false, got 'yes' "
                        "[wrong_type]",
                   NAME ":9:31: models[0].papers[1].icc: expected a string, got nothing (null) "
                        "[wrong_type]",
                   NAME ":9:59: models[0].papers[1].bpc: expected true or false, got a quoted "
                        "string [wrong_type]");
}

static void test_missing_keys(void **state)
{
        (void)state;
        EXPECT_BAD("models:\n"
                   "  - name: m1\n"
                   "    media:\n"
                   "      - { name: a, height: 2 }\n"
                   "    papers:\n"
                   "      - { media_type: p }\n"
                   "  - encoding: tiff\n",
                   NAME ":2:5: models[0].encoding: required key missing [missing_key]",
                   NAME ":4:9: models[0].media[0].width: required key missing [missing_key]",
                   NAME ":4:9: models[0].media[0].dpi: required key missing [missing_key]",
                   NAME ":6:9: models[0].papers[0].icc: required key missing [missing_key]",
                   NAME ":6:9: models[0].papers[0].intent: required key missing [missing_key]",
                   NAME ":6:9: models[0].papers[0].bpc: required key missing [missing_key]",
                   NAME ":7:5: models[1].name: required key missing [missing_key]",
                   NAME ":7:5: models[1].media: required key missing [missing_key]",
                   NAME ":7:5: models[1].papers: required key missing [missing_key]");
}

static void test_duplicates(void **state)
{
        (void)state;
        /* Model names, media names, media types, and a key twice in one mapping. */
        EXPECT_BAD(MODEL "  - name: m1\n"
                         "    encoding: pwg\n"
                         "    encoding: pwg\n"
                         "    media:\n"
                         "      - { name: na_5x7_5x7in, width: 1500, height: 2100, dpi: 300 }\n"
                         "      - { name: na_5x7_5x7in, width: 1548, height: 2152, dpi: 300 }\n"
                         "    papers:\n"
                         "      - { media_type: matte, icc: a.icc, intent: relative, bpc: true }\n"
                         "      - { media_type: matte, icc: b.icc, intent: relative, bpc: true }\n",
                   NAME ":14:11: models[1].name: duplicate name 'm1'; first used at line 2 "
                        "[duplicate_name]",
                   NAME ":16:5: models[1].encoding: duplicate key; first defined at line 15 "
                        "[duplicate_key]",
                   NAME ":19:17: models[1].media[1].name: duplicate name 'na_5x7_5x7in'; first "
                        "used at line 18 [duplicate_name]",
                   NAME ":22:23: models[1].papers[1].media_type: duplicate media_type 'matte'; "
                        "first used at line 21 [duplicate_name]");
}

static void test_bad_words(void **state)
{
        (void)state;
        EXPECT_BAD("models:\n"
                   "  - name: m1\n"
                   "    encoding: png\n"
                   "    media: [ { name: a, width: 1, height: 1, dpi: 300 } ]\n"
                   "    papers:\n"
                   "      - { media_type: p, icc: /x.icc, intent: relative-colorimetric, bpc: "
                   "true }\n"
                   "      - { media_type: q, icc: /x.icc, intent: Perceptual, bpc: true, "
                   "depth: 12 }\n",
                   NAME ":3:15: models[0].encoding: unknown value 'png'; allowed: jpeg, tiff, pwg "
                        "[bad_value]",
                   NAME ":6:47: models[0].papers[0].intent: unknown value "
                        "'relative-colorimetric'; allowed: perceptual, relative, saturation, "
                        "absolute [bad_value]",
                   NAME ":7:47: models[0].papers[1].intent: unknown value 'Perceptual'; allowed: "
                        "perceptual, relative, saturation, absolute [bad_value]",
                   NAME ":7:77: models[0].papers[1].depth: unknown value '12'; allowed: 8, 16 "
                        "[bad_value]");
}

static void test_bad_names(void **state)
{
        (void)state;
        EXPECT_BAD("models:\n"
                   "  - name: dnp ds620\n"
                   "    encoding: jpeg\n"
                   "    media: [ { name: NA_5x7, width: 1, height: 1, dpi: 300 } ]\n"
                   "    papers:\n"
                   "      - { media_type: \"\", icc: /x.icc, intent: perceptual, bpc: true }\n",
                   NAME ":2:11: models[0].name: must be 1 to 64 characters from A-Z, a-z, 0-9, "
                        "'_', '.' and '-' [bad_value]",
                   NAME ":4:22: models[0].media[0].name: must be 1 to 64 characters from a-z, "
                        "0-9, '_', '.' and '-' (a PWG 5101.1 name) [bad_value]",
                   NAME ":6:23: models[0].papers[0].media_type: must not be empty [bad_value]");
}

static void test_out_of_range(void **state)
{
        (void)state;
        EXPECT_BAD("models:\n"
                   "  - name: m1\n"
                   "    encoding: jpeg\n"
                   "    media:\n"
                   "      - { name: a, width: 0, height: 100001, dpi: 300 }\n"
                   "      - { name: b, width: 100000, height: 100000, dpi: 71 }\n"
                   "      - { name: c, width: -1, height: 1, dpi: 2401 }\n"
                   "    papers: [ { media_type: p, icc: /x.icc, intent: absolute, bpc: false } ]\n",
                   NAME ":5:27: models[0].media[0].width: '0' is out of range; must be between 1 "
                        "and 100000 [out_of_range]",
                   NAME ":5:38: models[0].media[0].height: '100001' is out of range; must be "
                        "between 1 and 100000 [out_of_range]",
                   NAME ":6:56: models[0].media[1].dpi: '71' is out of range; must be between 72 "
                        "and 2400 [out_of_range]",
                   NAME ":7:27: models[0].media[2].width: '-1' is out of range; must be between 1 "
                        "and 100000 [out_of_range]",
                   NAME ":7:47: models[0].media[2].dpi: '2401' is out of range; must be between "
                        "72 and 2400 [out_of_range]");
}

static void test_cross_checks(void **state)
{
        (void)state;
        /* Landscape media, 16 bits for a JPEG or PWG model, empty tables. */
        EXPECT_BAD("models:\n"
                   "  - name: m1\n"
                   "    encoding: jpeg\n"
                   "    media:\n"
                   "      - { name: a, width: 1920, height: 1240, dpi: 300 }\n"
                   "      - { name: b, width: 2400, height: 2400, dpi: 300 }\n"
                   "    papers:\n"
                   "      - { media_type: p, icc: /x.icc, intent: relative, bpc: true, depth: 16 "
                   "}\n"
                   "  - name: m2\n"
                   "    encoding: pwg\n"
                   "    media: []\n"
                   "    papers: []\n",
                   NAME ":5:27: models[0].media[0].width: width 1920 is greater than height "
                        "1240; media sizes are portrait (width <= height), swap them [bad_value]",
                   NAME ":8:75: models[0].papers[0].depth: 16 bits per channel needs encoding "
                        "tiff; this model's encoding is jpeg [bad_value]",
                   NAME ":11:12: models[1].media: must list at least one media size; an empty "
                        "table prints nothing [bad_value]",
                   NAME ":12:13: models[1].papers: must list at least one paper profile; an "
                        "empty table prints nothing [bad_value]");
        /* No cross check on values the walker already refused. */
        EXPECT_BAD("models:\n"
                   "  - name: m1\n"
                   "    encoding: jpg\n"
                   "    media: [ { name: a, width: x, height: 1, dpi: 300 } ]\n"
                   "    papers: [ { media_type: p, icc: /x.icc, intent: absolute, bpc: false, "
                   "depth: 16 } ]\n",
                   NAME ":3:15: models[0].encoding: unknown value 'jpg'; allowed: jpeg, tiff, pwg "
                        "[bad_value]",
                   NAME ":4:32: models[0].media[0].width: expected an integer, got 'x' "
                        "[wrong_type]");
}

static void test_yaml_extras(void **state)
{
        (void)state;
        EXPECT_BAD("models:\n"
                   "  - name: m1\n"
                   "    encoding: jpeg\n"
                   "    media: [ &a4 { name: a, width: 1, height: 1, dpi: 300 } ]\n"
                   "    papers: [ { media_type: p, icc: !!str /x.icc, intent: absolute, bpc: false "
                   "} ]\n",
                   NAME ":4:14: models[0].media[0]: YAML anchors and aliases are not supported; "
                        "write the value out [bad_value]",
                   NAME ":5:37: models[0].papers[0].icc: YAML tags (!tag) are not supported "
                        "[bad_value]");
}

static void test_too_many_problems(void **state)
{
        char *yaml = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&yaml, &size);
        lab_config_problems_t problems = {0};
        lab_registry_t *r = NULL;

        (void)state;
        assert_non_null(f);
        fputs("models:\n", f);
        for (int i = 0; i < 120; i++)
                fprintf(f, "  - { name: m%d, encoding: gif, media: [], papers: [] }\n", i);
        fclose(f);
        assert_int_equal(lab_registry_load_buffer(NAME, yaml, size, &r, &problems), -EINVAL);
        assert_null(r);
        assert_int_equal(problems.n, 101);
        assert_string_equal(problems.v[100].keyword, "too_many_problems");
        assert_int_equal(problems.v[100].line, 0);
        for (size_t i = 1; i < 100; i++)
                assert_true(problems.v[i - 1].line <= problems.v[i].line);
        lab_config_problems_clear(&problems);
        free(yaml);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_shipped_media_tables),
            cmocka_unit_test(test_shipped_papers),
            cmocka_unit_test(test_shipped_covers_sample_products),
            cmocka_unit_test(test_lookups_unknown),
            cmocka_unit_test(test_names),
            cmocka_unit_test(test_relative_icc),
            cmocka_unit_test(test_relative_icc_file),
            cmocka_unit_test(test_bad_file),
            cmocka_unit_test(test_bad_document),
            cmocka_unit_test(test_unknown_keys),
            cmocka_unit_test(test_wrong_types),
            cmocka_unit_test(test_missing_keys),
            cmocka_unit_test(test_duplicates),
            cmocka_unit_test(test_bad_words),
            cmocka_unit_test(test_bad_names),
            cmocka_unit_test(test_out_of_range),
            cmocka_unit_test(test_cross_checks),
            cmocka_unit_test(test_yaml_extras),
            cmocka_unit_test(test_too_many_problems),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
