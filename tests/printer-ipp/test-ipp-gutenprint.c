/*
 * test-ipp-gutenprint.c - the IPP driver on real dye-sub CUPS queues: a
 * cupsd of the test's own with Gutenprint's DNP DS620 and Mitsubishi
 * CP-D90DW drivers (printer-driver-gutenprint) on file: devices.
 *
 * Why: that is how most labs drive their dye-sub printers, and such a queue
 * does not behave like an IPP Everywhere printer: it knows its sizes only by
 * PPD names (w288h432 for 4x6) and prints any other name at its default
 * size, its colour settings are PPD options, and a file its filter cannot
 * open stops the job at the queue. The device file holds exactly what the
 * printer would get. The pixel-exact checks of whole jobs are in
 * tests/jobs (test_gutenprint.py); here: what the driver reads and sends.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "ipp-peer.h"
#include "ipp-wait.h"
#include "macro.h"
#include "printer.h"
#include "render-private.h"
#include "testutil.h"

static ipp_peer_t ds620, d90, usb;
static char *scratch, *out_dir, *photo_4x6, *photo_d90, *photo_5x7, *crafted;

/* 4x6 on the DS620: the PPD's ImageableArea 0 9.12 297.6 451.68 pt at 300 dpi. */
#define DS620_W 1240
#define DS620_H 1844
/* 4x6 on the D90: 294.24 x 444.48 pt, no margins. */
#define D90_W 1226
#define D90_H 1852
/* What Gutenprint writes for one DS620 4x6 print (TEST-PEERS-gutenprint.md). */
#define DS620_4X6_BYTES 7145952

/* A noise JPEG of w x h with the JFIF APP0 at 300 dpi the agent's print files carry. */
static char *make_print_file(const char *name, int w, int h, bool jfif)
{
        char *path = lab_test_path(scratch, name), *raw;
        uint8_t *out = NULL;
        size_t len = 0, out_len = 0;
        char *data;

        if (asprintf(&raw, "%s.raw.jpg[strip]", path) < 0)
                abort();
        ipp_peer_make_jpeg(raw, w, h);
        raw[strlen(raw) - strlen("[strip]")] = '\0';
        data = lab_test_read_file(raw, &len);
        /* Stripped: SOI followed by DQT, which imagetoraster cannot open. */
        assert_true(len > 4 && (uint8_t)data[3] == 0xDB);
        if (jfif) {
                assert_int_equal(lab_render_jpeg_jfif((uint8_t *)data, len, 300, &out, &out_len),
                                 0);
                lab_test_write_file(path, out, out_len);
        } else {
                lab_test_write_file(path, data, len);
        }
        free(out);
        free(data);
        free(raw);
        return path;
}

/* Start cupsd with a DS620 queue and another with a D90 queue, as a lab sets them up. */
static int group_setup(void **state)
{
        static const char *const ds620_opts[] = {"PageSize=w288h432", "StpColorCorrection=Raw",
                                                 NULL};
        static const char *const d90_opts[] = {"PageSize=w288h432", "StpColorCorrection=Raw",
                                               "StpUseLUT=False", "StpSharpen=0", NULL};
        static const char *const usb_env[] = {"TEST_MODE 2", "EXTRA_VID 1452", "EXTRA_PID 8b01",
                                              "MEDIA_CODE 300", NULL};
        char uri[512];

        if (access("/usr/share/ppd/gutenprint", F_OK) < 0 &&
            access("/usr/lib/cups/driver/gutenprint.5.3", F_OK) < 0)
                fail_msg("printer-driver-gutenprint is not installed (a Build-Depends <!nocheck>: "
                         "apt-get install --no-install-recommends printer-driver-gutenprint)");
        scratch = lab_test_mkdtemp("ipp-gutenprint");
        chmod(scratch, 0755);
        out_dir = lab_test_path(scratch, "out");
        assert_int_equal(mkdir(out_dir, 0777), 0);
        chmod(out_dir, 0777);
        snprintf(uri, sizeof uri, "file://%s/ds620.prn", out_dir);
        ipp_peer_start_cupsd_driver(&ds620, "ds620", uri, "gutenprint.5.3://dnp-ds620/expert",
                                    ds620_opts, NULL);
        snprintf(uri, sizeof uri, "file://%s/d90.prn", out_dir);
        ipp_peer_start_cupsd_driver(&d90, "d90", uri, "gutenprint.5.3://mitsubishi-d90dw/expert",
                                    d90_opts, NULL);
        /* The real DS620 backend in its test mode, with 6x4 media loaded (DNP code 300). */
        ipp_peer_start_cupsd_driver(&usb, "ds620usb", "gutenprint53+usb://dnp-ds620/TEST0001",
                                    "gutenprint.5.3://dnp-ds620/expert", ds620_opts, usb_env);
        photo_4x6 = make_print_file("photo-4x6.jpg", DS620_W, DS620_H, true);
        photo_d90 = make_print_file("photo-d90.jpg", D90_W, D90_H, true);
        photo_5x7 = make_print_file("photo-5x7.jpg", 1548, 2138, true);
        crafted = make_print_file("no-app-marker.jpg", 200, 300, false);
        return 0;
}

static int group_teardown(void **state)
{
        ipp_peer_stop(&ds620);
        ipp_peer_stop(&d90);
        ipp_peer_stop(&usb);
        if (!getenv("LAB_TEST_KEEP"))
                lab_test_rm_rf(scratch);
        free(scratch);
        free(out_dir);
        free(photo_4x6);
        free(photo_d90);
        free(photo_5x7);
        free(crafted);
        return 0;
}

static lab_printer_t *open_queue(const ipp_peer_t *peer, const char *name)
{
        lab_config_printer_t cfg = ipp_peer_config(name, peer->uri, 10000);
        lab_printer_t *p = NULL;
        lab_error_t err = {0};

        assert_int_equal(lab_printer_open(&cfg, &p, &err), 0);
        return p;
}

/* The size of p's caps called name, or fail. */
static const lab_printer_size_t *size_named(const lab_printer_caps_t *caps, const char *name)
{
        for (size_t i = 0; i < caps->n_sizes; i++)
                if (strcmp(caps->sizes[i].name, name) == 0)
                        return &caps->sizes[i];
        fail_msg("no size %s among %zu", name, caps->n_sizes);
        return NULL;
}

/* Bytes in the device file of queue (0 when it is not there). */
static off_t device_size(const char *queue)
{
        char name[64];
        _cleanup_free_ char *path = NULL;
        struct stat sb;

        snprintf(name, sizeof name, "%s.prn", queue);
        path = lab_test_path(out_dir, name);
        return stat(path, &sb) == 0 ? sb.st_size : 0;
}

/* The PPD's sizes, with the names the driver knows and the imageable areas in points. */
static void test_sizes(void **state)
{
        lab_printer_t *p = open_queue(&ds620, "ds620");
        lab_printer_caps_t caps;
        lab_error_t err = {0};
        const lab_printer_size_t *s;
        char why[512];

        assert_int_equal(lab_printer_capabilities(p, &caps, &err), 0);
        assert_true(caps.ppd);
        assert_true(caps.scaling_none);
        assert_true(caps.n_sizes >= 18);
        /* IPP lists only dimension-built names, shared by five sizes of the 4x6 sheet. */
        assert_false(lab_printer_caps_has(caps.media, caps.n_media, "na_index-4x6_4x6in"));
        s = size_named(&caps, "w288h432");
        assert_string_equal(s->text, "4x6");
        assert_int_equal(s->nominal_w, 10160);
        assert_int_equal(s->nominal_h, 15240);
        assert_true(lab_printer_size_fits(s, "ds620", DS620_W, DS620_H, 300, why, sizeof why));
        assert_true(lab_printer_size_fits(s, "ds620", DS620_H, DS620_W, 300, why, sizeof why));
        /* The page with bleed, what the sample registry used to say: cropped by 38 rows a side. */
        assert_false(lab_printer_size_fits(s, "ds620", 1240, 1920, 300, why, sizeof why));
        assert_non_null(strstr(why, "media_size_mismatch: "));
        assert_non_null(strstr(why, "1240x1844"));
        /* A multi-cut of the same sheet is no plain size. */
        s = size_named(&caps, "w288h432-div2");
        assert_int_equal(s->nominal_w, 0);
        s = size_named(&caps, "w360h504");
        assert_true(lab_printer_size_fits(s, "ds620", 1548, 2138, 300, NULL, 0));
        s = size_named(&caps, "w432h576");
        assert_true(lab_printer_size_fits(s, "ds620", 1844, 2436, 300, NULL, 0));
        lab_printer_caps_done(&caps);
        lab_printer_close(p);

        p = open_queue(&d90, "d90");
        assert_int_equal(lab_printer_capabilities(p, &caps, &err), 0);
        s = size_named(&caps, "w288h432");
        assert_true(lab_printer_size_fits(s, "d90", D90_W, D90_H, 300, why, sizeof why));
        s = size_named(&caps, "w360h504");
        assert_true(lab_printer_size_fits(s, "d90", 1550, 2127, 300, NULL, 0));
        s = size_named(&caps, "w432h576");
        assert_true(lab_printer_size_fits(s, "d90", 1852, 2427, 300, NULL, 0));
        lab_printer_caps_done(&caps);
        lab_printer_close(p);
}

/* A product's media to the queue's PPD name; none or more than one: refused with the choices. */
static void test_choose(void **state)
{
        lab_printer_t *p = open_queue(&ds620, "ds620");
        lab_printer_caps_t caps;
        lab_error_t err = {0};
        const lab_printer_size_t *s = NULL;
        char why[1024];

        assert_int_equal(lab_printer_capabilities(p, &caps, &err), 0);
        assert_int_equal(lab_printer_media_choose(&caps, "ds620", "na_index-4x6_4x6in", NULL, &s,
                                                  why, sizeof why),
                         0);
        assert_string_equal(s->name, "w288h432");
        assert_int_equal(
            lab_printer_media_choose(&caps, "ds620", "na_5x7_5x7in", NULL, &s, why, sizeof why), 0);
        assert_string_equal(s->name, "w360h504");
        assert_int_equal(
            lab_printer_media_choose(&caps, "ds620", "custom_6x8_6x8in", NULL, &s, why, sizeof why),
            0);
        assert_string_equal(s->name, "w432h576");
        /* Named by lab IT: a multi-cut is fine when said. */
        assert_int_equal(lab_printer_media_choose(&caps, "ds620", "na_index-4x6_4x6in",
                                                  "w288h432-div2", &s, why, sizeof why),
                         0);
        assert_string_equal(s->name, "w288h432-div2");
        /* No 8x10 on a DS620: refused, naming what it has. */
        assert_int_equal(lab_printer_media_choose(&caps, "ds620", "na_govt-letter_8x10in", NULL, &s,
                                                  why, sizeof why),
                         -ENOENT);
        assert_non_null(strstr(why, "printer_refused: printer ds620 has no size that is "
                                    "na_govt-letter_8x10in"));
        assert_non_null(strstr(why, "w288h432 (4x6)"));
        assert_non_null(strstr(why, "w432h576 (6x8)"));
        /* The dimension-built name IPP lists: never sent, five sizes share it. */
        assert_int_equal(lab_printer_media_choose(&caps, "ds620",
                                                  "custom_104.99x162.56mm_104.99x162.56mm", NULL,
                                                  &s, why, sizeof why),
                         -ENOENT);
        assert_int_equal(lab_printer_media_choose(&caps, "ds620", "na_index-4x6_4x6in", "w999", &s,
                                                  why, sizeof why),
                         -ENOENT);
        assert_non_null(strstr(why, "printers[].media names w999"));
        lab_printer_caps_done(&caps);
        lab_printer_close(p);
}

/* Submit file as media through p with options; the handle, or NULL with err. */
static char *submit(lab_printer_t *p, const char *id, const char *file, const char *media,
                    const lab_config_pair_t *options, size_t n_options, lab_error_t *err)
{
        char name[LAB_PRINTER_JOB_NAME_MAX], *handle = NULL;
        lab_print_request_t rq = {.file = file,
                                  .format = "image/jpeg",
                                  .job_name = name,
                                  .copies = 1,
                                  .media = media,
                                  .media_type = "photographic-glossy",
                                  .options = options,
                                  .n_options = n_options};

        assert_int_equal(lab_printer_job_name(name, sizeof name, id, 1, 1), 0);
        if (lab_printer_submit(p, &rq, &handle, err) < 0)
                return NULL;
        return handle;
}

/* Submit (it must be taken) and wait until the job settles; *ret_handle gets its handle. */
static lab_pjob_status_t print_settled(lab_printer_t *p, const char *id, const char *file,
                                       const char *media, const lab_config_pair_t *options,
                                       size_t n_options, char **ret_handle)
{
        lab_error_t err = {0};

        *ret_handle = submit(p, id, file, media, options, n_options, &err);
        if (!*ret_handle)
                fail_msg("submit %s: %s: %s", id, err.keyword, err.message);
        return ipp_wait_job(p, *ret_handle, LAB_PJOB_COMPLETED, 30000);
}

/* A 4x6 prints at 4x6 on both queues (the device data of one 4x6 print), options reaching it. */
static void test_print_4x6(void **state)
{
        lab_config_pair_t opts[] = {{"StpImageType", "Photo"}};
        lab_printer_t *p = open_queue(&ds620, "ds620");
        _cleanup_free_ char *handle = NULL, *log = NULL, *log_path = NULL;
        lab_pjob_status_t st;
        size_t len;

        st = print_settled(p, "gp-4x6", photo_4x6, "na_index-4x6_4x6in", opts, 1, &handle);
        assert_int_equal(st.state, LAB_PJOB_COMPLETED);
        assert_int_equal(device_size("ds620"), DS620_4X6_BYTES);
        log_path = lab_test_path(ds620.dir, "log/error_log");
        log = lab_test_read_file(log_path, &len);
        assert_non_null(strstr(log, "PageSize=w288h432"));
        assert_non_null(strstr(log, "print-scaling=none"));
        assert_non_null(strstr(log, "Set string ImageType to Photo"));
        lab_printer_close(p);

        p = open_queue(&d90, "d90");
        free(handle);
        st = print_settled(p, "gp-d90", photo_d90, "na_index-4x6_4x6in", NULL, 0, &handle);
        assert_int_equal(st.state, LAB_PJOB_COMPLETED);
        /* 1024 bytes of headers, packed RGB of 1852 x 1226, a 6-byte trailer. */
        assert_int_equal(device_size("d90"), 1024 + D90_W * D90_H * 3 + 6);
        lab_printer_close(p);
}

/* A size the queue does not have is refused before anything is sent: nothing printed. */
static void test_unknown_media(void **state)
{
        lab_printer_t *p = open_queue(&d90, "d90");
        lab_error_t err = {0};
        char *handle;
        off_t before = device_size("d90");

        handle = submit(p, "gp-a4", photo_d90, "iso_a4_210x297mm", NULL, 0, &err);
        assert_null(handle);
        assert_string_equal(err.keyword, "printer_refused");
        assert_non_null(strstr(err.message, "has no size that is iso_a4_210x297mm"));
        assert_non_null(strstr(err.message, "w144h432 (2x6)"));
        usleep(500000);
        assert_int_equal(device_size("d90"), before);
        lab_printer_close(p);
}

/* A queue default that alters colour is seen at every status; an option the agent sends wins. */
static void test_colour_default(void **state)
{
        lab_config_pair_t gamma_none[] = {{"StpGamma", "None"}};
        lab_printer_t *p = open_queue(&ds620, "ds620");
        lab_printer_status_t st;
        lab_error_t err = {0};
        char hostport[64], why[1024];

        assert_int_equal(lab_printer_status(p, &st, &err), 0);
        assert_int_equal(st.n_colour_defaults, 0);
        assert_true(lab_printer_colour_ok(&st, "ds620", NULL, 0, why, sizeof why));

        snprintf(hostport, sizeof hostport, "localhost:%d", ds620.port);
        char *set[] = {"lpadmin", "-h", hostport, "-p", "ds620", "-o", "StpGamma=1500", NULL};
        assert_int_equal(ipp_peer_run(set, NULL, 20000), 0);
        assert_int_equal(lab_printer_status(p, &st, &err), 0);
        assert_int_equal(st.n_colour_defaults, 1);
        assert_string_equal(st.colour_defaults[0].name, "StpGamma");
        assert_string_equal(st.colour_defaults[0].value, "1500");
        assert_false(lab_printer_colour_ok(&st, "ds620", NULL, 0, why, sizeof why));
        assert_non_null(strstr(why, "queue_colour_altered: "));
        assert_non_null(strstr(why, "StpGamma=1500"));
        assert_true(lab_printer_colour_ok(&st, "ds620", gamma_none, 1, why, sizeof why));

        char *reset[] = {"lpadmin", "-h", hostport, "-p", "ds620", "-o", "StpGamma=None", NULL};
        assert_int_equal(ipp_peer_run(reset, NULL, 20000), 0);
        /* A CUPS-level colour default: the agent's own print-color-mode=color wins on every
           job, so it is no reason; a Gutenprint curve default is one again. */
        char *mono[] = {"lpadmin",
                        "-h",
                        hostport,
                        "-p",
                        "ds620",
                        "-o",
                        "print-color-mode-default=monochrome",
                        "-o",
                        "StpLegacyDyesubGamma=True",
                        NULL};
        assert_int_equal(ipp_peer_run(mono, NULL, 20000), 0);
        assert_int_equal(lab_printer_status(p, &st, &err), 0);
        assert_false(lab_printer_colour_ok(&st, "ds620", NULL, 0, why, sizeof why));
        assert_non_null(strstr(why, "StpLegacyDyesubGamma=True"));
        char *color[] = {"lpadmin",
                         "-h",
                         hostport,
                         "-p",
                         "ds620",
                         "-o",
                         "print-color-mode-default=color",
                         "-o",
                         "StpLegacyDyesubGamma=False",
                         NULL};
        assert_int_equal(ipp_peer_run(color, NULL, 20000), 0);
        assert_int_equal(lab_printer_status(p, &st, &err), 0);
        assert_int_equal(st.n_colour_defaults, 0);
        lab_printer_close(p);
}

/* A file the filter cannot open: the job is held stopped with the filter's words. */
static void test_filter_failed(void **state)
{
        lab_printer_t *p = open_queue(&ds620, "ds620");
        lab_error_t err = {0};
        _cleanup_free_ char *handle = NULL;
        lab_pjob_status_t st;

        st = print_settled(p, "gp-crafted", crafted, "na_index-4x6_4x6in", NULL, 0, &handle);
        assert_true(st.stopped);
        assert_int_equal(st.state, LAB_PJOB_PROCESSING);
        /*
         * The filter's message may reach the job a while after cupsd stopped it: on a
         * loaded machine more than 10 s (seen once), so the bound is 30 s.
         */
        for (int i = 0; i < 600 && !strstr(st.message, "could not be opened"); i++) {
                usleep(50000);
                assert_int_equal(lab_printer_job_status(p, handle, &st, &err), 0);
        }
        assert_non_null(strstr(st.message, "could not be opened"));
        assert_string_equal(lab_pjob_failure(&st), "filter_failed");
        /* Taken back, it can never print later. */
        assert_int_equal(lab_printer_cancel(p, handle, &err), 0);
        assert_int_equal(lab_printer_job_status(p, handle, &st, &err), 0);
        assert_int_equal(st.state, LAB_PJOB_CANCELED);
        lab_printer_close(p);
}

/* A queue whose PPD is larger than any PPD (6 MB of comments): refused, nothing kept. */
static void test_ppd_too_large(void **state)
{
        char hostport[64], uri[256];
        _cleanup_free_ char *ppd = lab_test_path(scratch, "big.ppd"), *text = NULL;
        _cleanup_free_ char *src = lab_test_path(ds620.dir, "etc/ppd/ds620.ppd");
        lab_printer_t *p;
        lab_printer_caps_t caps;
        lab_error_t err = {0};
        FILE *f;
        size_t len;

        /* The DS620 queue's own PPD (cupsd keeps it in its ServerRoot), then 6 MB of comments. */
        text = lab_test_read_file(src, &len);
        f = fopen(ppd, "w");
        assert_non_null(f);
        assert_int_equal(fwrite(text, 1, len, f), len);
        for (int i = 0; i < 100000; i++)
                fprintf(f, "*%% padding %06d ...................................................\n",
                        i);
        assert_int_equal(fclose(f), 0);
        snprintf(hostport, sizeof hostport, "127.0.0.1:%d", ds620.port);
        char *add[] = {"lpadmin",          "-h", hostport, "-p", "big", "-E", "-v",
                       "file:///dev/null", "-P", ppd,      NULL};
        assert_int_equal(ipp_peer_run(add, NULL, 30000), 0);

        snprintf(uri, sizeof uri, "ipp://localhost:%d/printers/big", ds620.port);
        lab_config_printer_t cfg = ipp_peer_config("big", uri, 10000);
        assert_int_equal(lab_printer_open(&cfg, &p, &err), 0);
        assert_int_equal(lab_printer_capabilities(p, &caps, &err), -EFBIG);
        assert_string_equal(err.keyword, "printer_protocol");
        assert_non_null(strstr(err.message, "is over 4 MiB"));
        lab_printer_close(p);
}

/*
 * The printer's own check of the loaded media: Gutenprint's DS620 backend (test mode, 6x4
 * media loaded) cancels a 5x7 job, "Incorrect media for job loaded"; a 4x6 one prints.
 */
static void test_media_mismatch(void **state)
{
        lab_printer_t *p = open_queue(&usb, "ds620usb");
        _cleanup_free_ char *handle = NULL, *handle2 = NULL;
        lab_pjob_status_t st;

        st = print_settled(p, "gp-5x7", photo_5x7, "na_5x7_5x7in", NULL, 0, &handle);
        assert_int_equal(st.state, LAB_PJOB_CANCELED);
        assert_non_null(strstr(st.message, "Incorrect media"));
        assert_string_equal(lab_pjob_failure(&st), "media_mismatch");

        st = print_settled(p, "gp-6x4", photo_4x6, "na_index-4x6_4x6in", NULL, 0, &handle2);
        assert_int_equal(st.state, LAB_PJOB_COMPLETED);
        lab_printer_close(p);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_sizes),          cmocka_unit_test(test_choose),
            cmocka_unit_test(test_print_4x6),      cmocka_unit_test(test_unknown_media),
            cmocka_unit_test(test_colour_default), cmocka_unit_test(test_filter_failed),
            cmocka_unit_test(test_media_mismatch), cmocka_unit_test(test_ppd_too_large),
        };

        return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
