/*
 * test-hotfolder.c - the hot-folder driver against a test minilab
 * (minilab.py), for one format given as argv[1]: generic, noritsu or dnp.
 *
 * Why: the driver's promises are about a peer it cannot see: the minilab
 * never sees half an item, replies are noticed through inotify and read back
 * from the folder alone (after a restart too), work left lying is reported
 * as a stall, a full disk leaves nothing behind, and the folder's memory
 * (.labagent/: its identity and the records of what was sent) tells an item
 * the minilab took and whose result is gone from one never sent. Each
 * scenario runs a real minilab process on a real folder and asserts what it
 * and the driver saw. Every wait is bounded; the minilab also ends on its own
 * at its time limit.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "digest.h"
#include "hotfolder-private.h"
#include "printer.h"
#include "testutil.h"

#define MINILAB   LAB_SOURCE_DIR "/tests/printer-hotfolder/minilab.py"
#define PYTHON    "/usr/bin/python3"
#define SEC       1000000ull
#define WAIT_MS   10000 /* longest wait for a reply the minilab sends at once */
#define FILE_SIZE (256 * 1024)

extern char **environ;

static const char *format_name = "generic"; /* argv[1] */

/* The format under test, as the config enum. */
static lab_hotfolder_format_t format_enum(void)
{
        if (strcmp(format_name, "noritsu") == 0)
                return LAB_HOTFOLDER_NORITSU;
        if (strcmp(format_name, "dnp") == 0)
                return LAB_HOTFOLDER_DNP;
        return LAB_HOTFOLDER_GENERIC;
}

/* One scenario's scratch: dir/hot is the hot folder, dir/src.jpg the print file. */
typedef struct fixture_s {
        char *dir, *hot, *src;
        lab_config_printer_t cfg;
        lab_printer_t *p;
        pid_t minilab;
} fixture_t;

/* Fill path with a fake JPEG (SOI, deterministic bytes, EOI) of size bytes. */
static void write_fake_jpeg(const char *path, size_t size, unsigned seed)
{
        unsigned char *b = malloc(size);
        uint32_t x = seed * 2654435761u + 1;

        assert_non_null(b);
        for (size_t i = 0; i < size; i++) {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                b[i] = (unsigned char)x;
        }
        b[0] = 0xff, b[1] = 0xd8, b[size - 2] = 0xff, b[size - 1] = 0xd9;
        lab_test_write_file(path, b, size);
        free(b);
}

/* A fresh hot folder (dnp: with 4x6 and 5x7) and a print file. */
static int setup(void **state)
{
        fixture_t *f = calloc(1, sizeof *f);

        assert_non_null(f);
        f->dir = lab_test_mkdtemp("hotfolder");
        f->hot = lab_test_path(f->dir, "hot");
        f->src = lab_test_path(f->dir, "src.jpg");
        assert_int_equal(mkdir(f->hot, 0755), 0);
        if (format_enum() == LAB_HOTFOLDER_DNP) {
                char *d4 = lab_test_path(f->hot, "4x6"), *d5 = lab_test_path(f->hot, "5x7");
                assert_int_equal(mkdir(d4, 0755), 0);
                assert_int_equal(mkdir(d5, 0755), 0);
                free(d4);
                free(d5);
        }
        write_fake_jpeg(f->src, FILE_SIZE, 1);
        f->cfg = (lab_config_printer_t){
            .name = "minilab",
            .driver = LAB_PRINTER_DRIVER_HOTFOLDER,
            .folder = f->hot,
            .format = format_enum(),
            .enabled = true,
            .weight = 1.0,
            .timeout = 5 * SEC,
            .stall_after = 600 * SEC,
        };
        f->minilab = -1;
        *state = f;
        return 0;
}

/* Kill a minilab still running, close the printer, remove the scratch. */
static int teardown(void **state)
{
        fixture_t *f = *state;

        if (f->minilab > 0) {
                kill(f->minilab, SIGKILL);
                waitpid(f->minilab, NULL, 0);
        }
        lab_printer_close(f->p);
        lab_test_rm_rf(f->dir);
        free(f->dir);
        free(f->hot);
        free(f->src);
        free(f);
        return 0;
}

/* Open (or reopen) the printer. */
static void open_printer(fixture_t *f)
{
        lab_error_t err = {0};

        lab_printer_close(f->p);
        f->p = NULL;
        assert_int_equal(lab_printer_open(&f->cfg, &f->p, &err), 0);
        assert_non_null(f->p);
}

/* Start the minilab: mode plus extra "--flag value" pairs, NULL-terminated. */
static pid_t start_minilab(fixture_t *f, const char *mode, ...)
{
        const char *argv[32] = {PYTHON, MINILAB,  "--format", format_name,    "--folder",
                                f->hot, "--mode", mode,       "--time-limit", "15"};
        size_t n = 10;
        va_list ap;
        const char *a;
        pid_t pid;

        va_start(ap, mode);
        while ((a = va_arg(ap, const char *)) && n < ELEMENTSOF(argv) - 1)
                argv[n++] = a;
        va_end(ap);
        argv[n] = NULL;
        assert_int_equal(posix_spawn(&pid, PYTHON, NULL, NULL, (char **)argv, environ), 0);
        f->minilab = pid;
        return pid;
}

/* Wait (bounded) for the minilab to exit on its own; returns its exit code. */
static int wait_minilab(fixture_t *f, int timeout_ms)
{
        long long end = lab_test_now_ms() + timeout_ms;
        int status;

        while (lab_test_now_ms() < end) {
                pid_t r = waitpid(f->minilab, &status, WNOHANG);
                if (r == f->minilab) {
                        f->minilab = -1;
                        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
                }
                usleep(10000);
        }
        fail_msg("minilab did not exit within %d ms", timeout_ms);
        return -1;
}

/* Stop a minilab that would otherwise run to its time limit; returns its exit code. */
static int stop_minilab(fixture_t *f)
{
        kill(f->minilab, SIGTERM);
        return wait_minilab(f, 5000);
}

/* Submit f->src (or file) as copy 1 of job id, attempt 1. Returns the handle (malloc'd). */
static char *submit_file(fixture_t *f, const char *id, const char *file, unsigned copies,
                         const char *media, int expect, const char *expect_keyword)
{
        char name[LAB_PRINTER_JOB_NAME_MAX];
        lab_error_t err = {0};
        char *handle = NULL;
        int r;

        assert_int_equal(lab_printer_job_name(name, sizeof name, id, 1, 1), 0);
        lab_print_request_t req = {
            .file = file,
            .format = "image/jpeg",
            .job_name = name,
            .copies = copies,
            .media = media,
            .media_type = "photographic-glossy",
            .order_id = "order-77",
            .width = 1200,
            .height = 1800,
            .dpi = 300,
        };
        r = lab_printer_submit(f->p, &req, &handle, &err);
        if (r != expect)
                fail_msg("submit %s: %d (%s: %s), expected %d", name, r, err.keyword, err.message,
                         expect);
        if (expect_keyword)
                assert_string_equal(err.keyword, expect_keyword);
        if (r == 0)
                assert_non_null(handle);
        return handle;
}

/* Submit f->src as one 4x6 job of the given copies. */
static char *submit(fixture_t *f, const char *id, unsigned copies)
{
        return submit_file(f, id, f->src, copies, "na_index-4x6_4x6in", 0, NULL);
}

/* Poll the watch fd and the job until it reaches state (bounded); returns the last status. */
static lab_pjob_status_t wait_state(fixture_t *f, const char *handle, lab_pjob_state_t want,
                                    int timeout_ms)
{
        long long end = lab_test_now_ms() + timeout_ms;
        lab_pjob_status_t st = {0};
        lab_error_t err = {0};
        int fd = lab_printer_watch_fd(f->p);

        for (;;) {
                int r = lab_printer_job_status(f->p, handle, &st, &err);
                if (r != 0)
                        fail_msg("job %s: %d %s: %s", handle, r, err.keyword, err.message);
                if (st.state == want)
                        return st;
                if (lab_test_now_ms() >= end)
                        break;
                struct pollfd pfd = {.fd = fd, .events = POLLIN};
                (void)poll(&pfd, 1, 100);
                lab_printer_drain_watch(f->p);
        }
        fail_msg("job %s: state %s, expected %s", handle, lab_pjob_state_to_string(st.state),
                 lab_pjob_state_to_string(want));
        return st;
}

/* Whether two files hold the same bytes. */
static void assert_same_file(const char *a, const char *b)
{
        size_t la, lb;
        char *da = lab_test_read_file(a, &la), *db = lab_test_read_file(b, &lb);

        if (!da || !db)
                fail_msg("cannot read %s or %s", a, b);
        assert_int_equal(la, lb);
        assert_memory_equal(da, db, la);
        free(da);
        free(db);
}

/* Count the directory entries of dir (recursively) that are not directories, .labagent/ aside. */
static int count_files(const char *dir, int depth)
{
        char cmd[1024];
        int n = 0;
        FILE *p;

        snprintf(cmd, sizeof cmd,
                 "find '%s' -maxdepth %d -path '%s/" HF_STATE_DIR "' -prune -o ! "
                 "-type d -print",
                 dir, depth, dir);
        p = popen(cmd, "r");
        assert_non_null(p);
        while (fgets(cmd, sizeof cmd, p)) {
                fprintf(stderr, "  left: %s", cmd);
                n++;
        }
        pclose(p);
        return n;
}

/* A path in the folder's memory directory (.labagent/rel), malloc'd. */
static char *state_file(fixture_t *f, const char *rel)
{
        char *dir = lab_test_path(f->hot, HF_STATE_DIR), *p = lab_test_path(dir, rel);

        free(dir);
        return p;
}

/* How many sent records the folder holds (files under .labagent/sent/). */
static int sent_records(fixture_t *f)
{
        char *sent = state_file(f, "sent");
        int n = count_files(sent, 3);

        free(sent);
        return n;
}

/*
 * find_job for copy 1, attempt 1 of job id: expect r (0, -ENOENT, or an I/O
 * error: hotfolder_unwritable); *ret_st and *ret_m get what it said.
 */
static void find_expect(fixture_t *f, const char *id, int expect, lab_pjob_status_t *ret_st,
                        lab_printer_memory_t *ret_m)
{
        char name[LAB_PRINTER_JOB_NAME_MAX], item[HF_ITEM_MAX + 1];
        lab_printer_memory_t m;
        lab_pjob_status_t st;
        lab_error_t err = {0};
        char *found = NULL;
        int r;

        assert_int_equal(lab_printer_job_name(name, sizeof name, id, 1, 1), 0);
        assert_int_equal(hf_item_encode(name, item, sizeof item), 0);
        r = lab_printer_find_job(f->p, name, &found, &st, &m, &err);
        if (r != expect)
                fail_msg("find_job %s: %d (%s: %s; state %s), expected %d", name, r, err.keyword,
                         err.message, lab_pjob_state_to_string(st.state), expect);
        if (r == 0) {
                assert_non_null(found);
                assert_string_equal(found, item);
        } else {
                assert_null(found);
                assert_string_equal(err.keyword,
                                    r == -ENOENT ? "printer_job_unknown" : "hotfolder_unwritable");
        }
        free(found);
        if (ret_st)
                *ret_st = st;
        if (ret_m)
                *ret_m = m;
}

/* The printer status's boot (asserting the status call itself works). */
static int64_t status_boot(fixture_t *f)
{
        lab_printer_status_t s;
        lab_error_t err = {0};

        assert_int_equal(lab_printer_status(f->p, &s, &err), 0);
        return s.boot;
}

/* Wait (bounded) until the wall clock has passed second t, so a new identity gets a later time. */
static void wait_past(int64_t t)
{
        long long end = lab_test_now_ms() + 3000;

        while ((int64_t)time(NULL) <= t && lab_test_now_ms() < end)
                usleep(20000);
        assert_true((int64_t)time(NULL) > t);
}

/* ---- scenarios ---- */

/* Success: COMPLETED, the consumed file byte-identical, the order says copies and media. */
static void test_success(void **state)
{
        fixture_t *f = *state;
        char *h, *path, *text;

        open_printer(f);
        start_minilab(f, "succeed", "--items", format_enum() == LAB_HOTFOLDER_DNP ? "2" : "1",
                      NULL);
        h = submit(f, "A 7:x", 2);
        /* The job id's space and colon and the name's slashes are encoded, reversibly. */
        assert_string_equal(h, "A%207%3Ax%2F1%2F1");
        lab_pjob_status_t st = wait_state(f, h, LAB_PJOB_COMPLETED, WAIT_MS);
        assert_int_equal(wait_minilab(f, WAIT_MS), 0);

        switch (format_enum()) {
        case LAB_HOTFOLDER_GENERIC: {
                json_error_t jerr;
                path = lab_test_path(f->hot, "done/A%207%3Ax%2F1%2F1.jpg");
                assert_same_file(f->src, path);
                free(path);
                path = lab_test_path(f->hot, "done/A%207%3Ax%2F1%2F1.json");
                json_t *o = json_load_file(path, 0, &jerr);
                if (!o)
                        fail_msg("sidecar: %s", jerr.text);
                char sha[LAB_SHA256_HEX_LEN + 1];
                assert_int_equal(lab_sha256_file(f->src, sha), 0);
                assert_int_equal(json_integer_value(json_object_get(o, "copies")), 2);
                assert_string_equal(json_string_value(json_object_get(o, "media")),
                                    "na_index-4x6_4x6in");
                assert_string_equal(json_string_value(json_object_get(o, "media_size")), "4x6");
                assert_string_equal(json_string_value(json_object_get(o, "media_type")),
                                    "photographic-glossy");
                assert_string_equal(json_string_value(json_object_get(o, "job_name")), "A 7:x/1/1");
                assert_string_equal(json_string_value(json_object_get(o, "order_id")), "order-77");
                assert_string_equal(json_string_value(json_object_get(o, "file")),
                                    "A%207%3Ax%2F1%2F1.jpg");
                assert_int_equal(json_integer_value(json_object_get(o, "bytes")), FILE_SIZE);
                assert_int_equal(json_integer_value(json_object_get(o, "width")), 1200);
                assert_int_equal(json_integer_value(json_object_get(o, "dpi")), 300);
                assert_string_equal(json_string_value(json_object_get(o, "sha256")), sha);
                json_decref(o);
                free(path);
                break;
        }
        case LAB_HOTFOLDER_NORITSU:
                path = lab_test_path(f->hot, "_done_A%207%3Ax%2F1%2F1/IMAGE/IMG0001.JPG");
                assert_same_file(f->src, path);
                free(path);
                path = lab_test_path(f->hot, "_done_A%207%3Ax%2F1%2F1/MISC/AUTPRINT.MRK");
                text = lab_test_read_file(path, NULL);
                assert_non_null(text);
                assert_non_null(strstr(text, "[HDR]\r\nGEN REV = 01.10\r\nGEN CRT = \"labagent\""));
                assert_non_null(strstr(text, "\r\nGEN DTM = 20"));
                assert_non_null(strstr(text, "\r\n[JOB]\r\nPRT PID = 001\r\nPRT TYP = STD\r\n"
                                             "PRT QTY = 002\r\nIMG FMT = EXIF2 -J\r\n"
                                             "<IMG SRC = \"../IMAGE/IMG0001.JPG\">\r\n"));
                assert_non_null(strstr(text, "LAB MED = \"na_index-4x6_4x6in\"\r\n"));
                assert_non_null(strstr(text, "LAB SIZ = \"4x6\"\r\n"));
                assert_non_null(strstr(text, "LAB JOB = \"A 7:x/1/1\"\r\n"));
                free(text);
                free(path);
                break;
        case LAB_HOTFOLDER_DNP:
                /* Copies are files in the size's folder, each marked printed. */
                for (int k = 1; k <= 2; k++) {
                        char rel[128];
                        snprintf(rel, sizeof rel, "4x6/A%%207%%3Ax%%2F1%%2F1~%d.jpg.printed", k);
                        path = lab_test_path(f->hot, rel);
                        assert_same_file(f->src, path);
                        free(path);
                }
                assert_int_equal(st.impressions_completed, 2);
                path = lab_test_path(f->hot, "4x6/A%207%3Ax%2F1%2F1~3.jpg.printed");
                assert_int_equal(access(path, F_OK), -1);
                free(path);
                break;
        }
        free(h);
}

/* Error: ABORTED with the minilab's text. */
static void test_error(void **state)
{
        fixture_t *f = *state;
        char *h;

        open_printer(f);
        start_minilab(f, "fail", "--items", "1", "--error", "paper jam in magazine 2\n(code E-41)",
                      NULL);
        h = submit(f, "err-1", 1);
        lab_pjob_status_t st = wait_state(f, h, LAB_PJOB_ABORTED, WAIT_MS);
        assert_string_equal(st.message, "paper jam in magazine 2 (code E-41)");
        assert_int_equal(wait_minilab(f, WAIT_MS), 0);
        /* Cancelling a job that already ended is not an error. */
        lab_error_t err = {0};
        assert_int_equal(lab_printer_cancel(f->p, h, &err), 0);
        free(h);
}

/* Stall: work left lying past stall_after makes the printer unavailable (printer_stalled). */
static void test_stall(void **state)
{
        fixture_t *f = *state;
        lab_printer_status_t s;
        lab_error_t err = {0};
        char why[256];
        char *h;
        long long t0, end;

        f->cfg.stall_after = 1 * SEC;
        open_printer(f);
        start_minilab(f, "ignore", NULL);
        t0 = lab_test_now_ms();
        h = submit(f, "stall-1", 1);
        assert_int_equal(lab_printer_status(f->p, &s, &err), 0);
        assert_int_equal(s.n_reasons, 0);
        assert_int_equal(s.state, LAB_PRINTER_PROCESSING);
        assert_true(s.accepting);
        assert_true(lab_printer_status_available(&s, why, sizeof why));

        end = t0 + 6000;
        do {
                usleep(50000);
                assert_int_equal(lab_printer_status(f->p, &s, &err), 0);
        } while (s.n_reasons == 0 && lab_test_now_ms() < end);
        if (s.n_reasons != 1)
                fail_msg("no stall after %lld ms: state %s, message '%s'", lab_test_now_ms() - t0,
                         lab_printer_state_to_string(s.state), s.message);
        assert_string_equal(s.reasons[0].keyword, "stalled");
        assert_int_equal(s.reasons[0].severity, LAB_SEVERITY_ERROR);
        assert_true(lab_test_now_ms() - t0 >= 900);
        assert_non_null(strstr(s.message, "stall-1%2F1%2F1"));
        assert_false(lab_printer_status_available(&s, why, sizeof why));
        assert_true(strncmp(why, "printer_stalled:", 16) == 0);

        lab_pjob_status_t st = wait_state(f, h, LAB_PJOB_PENDING, 0);
        assert_int_equal(st.state, LAB_PJOB_PENDING);
        assert_int_equal(stop_minilab(f), 0);
        free(h);
}

/* find_job after closing and reopening the handle: state is read from the folder. */
static void test_find_after_reopen(void **state)
{
        fixture_t *f = *state;
        char name[LAB_PRINTER_JOB_NAME_MAX];
        lab_pjob_status_t st;
        lab_error_t err = {0};
        char *h, *found = NULL;

        open_printer(f);
        h = submit(f, "reopen-1", 1);
        open_printer(f); /* an agent restart */
        assert_int_equal(lab_printer_job_name(name, sizeof name, "reopen-1", 1, 1), 0);
        assert_int_equal(lab_printer_find_job(f->p, name, &found, &st, NULL, &err), 0);
        assert_string_equal(found, h);
        assert_int_equal(st.state, LAB_PJOB_PENDING);
        free(found);
        found = NULL;

        /* A name never submitted: printer_job_unknown. */
        assert_int_equal(lab_printer_job_name(name, sizeof name, "reopen-1", 2, 1), 0);
        assert_int_equal(lab_printer_find_job(f->p, name, &found, &st, NULL, &err), -ENOENT);
        assert_string_equal(err.keyword, "printer_job_unknown");
        assert_null(found);

        start_minilab(f, "succeed", "--items", "1", NULL);
        wait_state(f, h, LAB_PJOB_COMPLETED, WAIT_MS);
        assert_int_equal(wait_minilab(f, WAIT_MS), 0);
        open_printer(f);
        assert_int_equal(lab_printer_job_name(name, sizeof name, "reopen-1", 1, 1), 0);
        assert_int_equal(lab_printer_find_job(f->p, name, &found, &st, NULL, &err), 0);
        assert_int_equal(st.state, LAB_PJOB_COMPLETED);
        assert_string_equal(found, h);
        free(found);

        /* Gone entirely (lab IT cleaned up): printer_job_unknown, not an I/O error. */
        lab_test_rm_rf(f->hot);
        assert_int_equal(mkdir(f->hot, 0755), 0);
        assert_int_equal(lab_printer_job_status(f->p, h, &st, &err), -ENOENT);
        assert_string_equal(err.keyword, "printer_job_unknown");
        free(h);
}

/* Cancel before pickup: CANCELED, never printed; after take-up: refused. */
static void test_cancel(void **state)
{
        fixture_t *f = *state;
        lab_error_t err = {0};
        char *h1, *h2, *h3;

        open_printer(f);
        h1 = submit(f, "cancel-1", 2);
        assert_int_equal(lab_printer_cancel(f->p, h1, &err), 0);
        wait_state(f, h1, LAB_PJOB_CANCELED, 0);
        /* Cancelling twice is fine. */
        assert_int_equal(lab_printer_cancel(f->p, h1, &err), 0);

        /* The minilab prints the next job but never sees the canceled one. */
        start_minilab(f, "succeed", "--items", format_enum() == LAB_HOTFOLDER_DNP ? "2" : "1",
                      NULL);
        h2 = submit(f, "cancel-2", 2);
        wait_state(f, h2, LAB_PJOB_COMPLETED, WAIT_MS);
        assert_int_equal(wait_minilab(f, WAIT_MS), 0);
        wait_state(f, h1, LAB_PJOB_CANCELED, 0);

        /* Taken up: too late. */
        start_minilab(f, "accept", NULL);
        h3 = submit(f, "cancel-3", 1);
        wait_state(f, h3, LAB_PJOB_PROCESSING, WAIT_MS);
        lab_error_clear(&err);
        assert_int_equal(lab_printer_cancel(f->p, h3, &err), -EBUSY);
        assert_string_equal(err.keyword, "printer_refused");
        assert_non_null(strstr(err.message, "already taken up"));
        wait_state(f, h3, LAB_PJOB_PROCESSING, 0);
        assert_int_equal(stop_minilab(f), 0);
        free(h1);
        free(h2);
        free(h3);
}

/* The inotify fd becomes readable when the minilab replies. */
static void test_watch_fd(void **state)
{
        fixture_t *f = *state;
        int fd;
        char *h;

        open_printer(f);
        fd = lab_printer_watch_fd(f->p);
        assert_true(fd >= 0);
        h = submit(f, "watch-1", 1);
        lab_printer_drain_watch(f->p);
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        assert_int_equal(poll(&pfd, 1, 0), 0); /* our own writes are drained */

        start_minilab(f, "succeed", "--items", "1", NULL);
        pfd.revents = 0;
        assert_int_equal(poll(&pfd, 1, WAIT_MS), 1);
        assert_true(pfd.revents & POLLIN);
        lab_printer_drain_watch(f->p);
        wait_state(f, h, LAB_PJOB_COMPLETED, WAIT_MS);
        assert_int_equal(wait_minilab(f, WAIT_MS), 0);
        free(h);
}

/* Put an incomplete ready item in the folder by hand, the way the driver never does. */
static void plant_partial(fixture_t *f)
{
        char *p;

        switch (format_enum()) {
        case LAB_HOTFOLDER_GENERIC:
                p = lab_test_path(f->hot, "half.jpg");
                lab_test_write_string(p, "\xff\xd8 only the beginning");
                free(p);
                p = lab_test_path(f->hot, "half.json");
                lab_test_write_string(p, "{\"job_name\": \"half/1/1\", \"item\": \"half\", "
                                         "\"copies\": 1, \"media\": \"x\", \"file\": "
                                         "\"half.jpg\", \"bytes\": 262144, \"sha256\": \"00\"}");
                break;
        case LAB_HOTFOLDER_NORITSU:
                p = lab_test_path(f->hot, "half");
                assert_int_equal(mkdir(p, 0755), 0);
                break;
        case LAB_HOTFOLDER_DNP:
                p = lab_test_path(f->hot, "4x6/half~1.jpg");
                lab_test_write_string(p, "\xff\xd8 only the beginning");
                break;
        }
        free(p);
}

/* Watch the ready area (where the minilab picks items up) for how names appear there. */
static int ready_watch_open(fixture_t *f)
{
        char *dir = format_enum() == LAB_HOTFOLDER_DNP ? lab_test_path(f->hot, "4x6")
                                                       : lab_test_path(f->hot, "");
        int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);

        assert_true(fd >= 0);
        assert_true(
            inotify_add_watch(fd, dir, IN_CREATE | IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_TO) >= 0);
        free(dir);
        return fd;
}

/*
 * No name the minilab would take was ever written to in place: data is
 * written only under '.'-names, and a ready name appears by rename (or, for
 * a dnp copy, as a hard link of a complete file), never by create-and-write.
 */
static void ready_watch_check(int fd)
{
        char buf[64 * 1024] __attribute__((aligned(__alignof__(struct inotify_event))));
        int events = 0, appeared = 0;

        for (;;) {
                ssize_t n = read(fd, buf, sizeof buf);
                if (n <= 0)
                        break;
                for (char *c = buf; c < buf + n;) {
                        struct inotify_event *ev = (struct inotify_event *)c;
                        c += sizeof *ev + ev->len;
                        events++;
                        if (ev->mask & IN_Q_OVERFLOW)
                                fail_msg("inotify queue overflow: cannot check atomicity");
                        if (ev->len == 0 || ev->name[0] == '.')
                                continue;
                        if (ev->mask & (IN_MODIFY | IN_CLOSE_WRITE))
                                fail_msg("ready name %s written in place (mask %#x)", ev->name,
                                         ev->mask);
                        if ((ev->mask & IN_CREATE) && format_enum() == LAB_HOTFOLDER_NORITSU &&
                            ev->name[0] != '_')
                                fail_msg("order folder %s created in place, not renamed", ev->name);
                        if (ev->mask & (IN_CREATE | IN_MOVED_TO))
                                appeared++;
                }
        }
        assert_true(events > 0);
        assert_true(appeared > 0);
        close(fd);
}

/* Atomicity: a fast-polling minilab never sees a partial item; and it would notice one. */
static void test_atomicity(void **state)
{
        fixture_t *f = *state;
        enum { N = 4 };
        char *hs[N], id[32], *big = lab_test_path(f->dir, "big.jpg");

        write_fake_jpeg(big, 4 * 1024 * 1024, 7);
        open_printer(f);
        int watch = ready_watch_open(f);
        start_minilab(f, "succeed", "--items", "4", "--poll", "1", NULL);
        for (int i = 0; i < N; i++) {
                snprintf(id, sizeof id, "atom-%d", i);
                hs[i] = submit_file(f, id, big, 1, "na_index-4x6_4x6in", 0, NULL);
        }
        for (int i = 0; i < N; i++)
                wait_state(f, hs[i], LAB_PJOB_COMPLETED, WAIT_MS);
        assert_int_equal(wait_minilab(f, WAIT_MS), 0);
        ready_watch_check(watch);
        for (int i = 0; i < N; i++)
                free(hs[i]);
        free(big);

        /* The check has teeth: a hand-made partial item is caught (exit 3). */
        plant_partial(f);
        start_minilab(f, "succeed", NULL);
        assert_int_equal(wait_minilab(f, WAIT_MS), 3);
}

/* In a child with RLIMIT_FSIZE: the write fails; 0 when the driver reported it right. */
static int child_write_failure(fixture_t *f, const char *big)
{
        struct rlimit rl = {.rlim_cur = 64 * 1024, .rlim_max = 64 * 1024};
        char name[LAB_PRINTER_JOB_NAME_MAX];
        lab_error_t err = {0};
        lab_printer_t *p = NULL;
        char *h = NULL;
        int r;

        signal(SIGXFSZ, SIG_IGN);
        if (setrlimit(RLIMIT_FSIZE, &rl) < 0)
                return 10;
        if (lab_printer_open(&f->cfg, &p, &err) < 0)
                return 11;
        lab_printer_job_name(name, sizeof name, "full-1", 1, 1);
        lab_print_request_t req = {.file = big,
                                   .format = "image/jpeg",
                                   .job_name = name,
                                   .copies = 2,
                                   .media = "na_index-4x6_4x6in"};
        r = lab_printer_submit(p, &req, &h, &err);
        fprintf(stderr, "  child submit: %d %s: %s\n", r, err.keyword, err.message);
        if (r != -EFBIG)
                return 12;
        if (strcmp(err.keyword, "hotfolder_unwritable") != 0)
                return 13;
        if (!strstr(err.message, strerror(EFBIG)))
                return 14;
        if (h)
                return 15;
        return 0;
}

/* A failing write (file size limit) leaves nothing in the folder and says hotfolder_unwritable. */
static void test_write_failure(void **state)
{
        fixture_t *f = *state;
        char *big = lab_test_path(f->dir, "big.jpg");
        int status;
        pid_t pid;

        write_fake_jpeg(big, 1024 * 1024, 3);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0)
                _exit(child_write_failure(f, big));
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
        /* No item, no temporary file, no half order folder, no record of a send. */
        assert_int_equal(count_files(f->hot, 5), 0);
        assert_int_equal(sent_records(f), 0);
        open_printer(f);
        find_expect(f, "full-1", -ENOENT, NULL, NULL);
        if (format_enum() == LAB_HOTFOLDER_NORITSU) {
                char *tmp = lab_test_path(f->hot, "_tmp_full-1%2F1%2F1");
                assert_int_equal(access(tmp, F_OK), -1);
                free(tmp);
        }
        /* The same job goes through once the disk has room. */
        char *h = submit_file(f, "full-1", big, 1, "na_index-4x6_4x6in", 0, NULL);
        wait_state(f, h, LAB_PJOB_PENDING, 0);
        free(h);
        free(big);
}

/* The folder is not a directory, or goes away: unwritable, never "job unknown". */
static void test_unwritable(void **state)
{
        fixture_t *f = *state;
        lab_printer_status_t s;
        lab_pjob_status_t st;
        lab_error_t err = {0};
        char why[512];
        char *h;

        open_printer(f);
        h = submit(f, "gone-1", 1);
        int64_t boot = status_boot(f);

        /* The share is unmounted under us: the folder is missing. */
        char *moved = lab_test_path(f->dir, "moved");
        assert_int_equal(rename(f->hot, moved), 0);
        assert_int_equal(lab_printer_status(f->p, &s, &err), 0);
        assert_int_equal(s.boot, 0);
        assert_int_equal(s.state, LAB_PRINTER_UNREACHABLE);
        assert_false(s.accepting);
        assert_string_equal(err.keyword, "hotfolder_unwritable");
        assert_non_null(strstr(s.message, "hotfolder_unwritable"));
        assert_false(lab_printer_status_available(&s, why, sizeof why));
        lab_error_clear(&err);
        assert_true(lab_printer_job_status(f->p, h, &st, &err) < 0);
        assert_string_equal(err.keyword, "hotfolder_unwritable");
        find_expect(f, "gone-1", -EIO, NULL, NULL);
        lab_error_clear(&err);
        char *h2 =
            submit_file(f, "gone-2", f->src, 1, "na_index-4x6_4x6in", -EIO, "hotfolder_unwritable");
        assert_null(h2);

        /*
         * Mounted again (a new directory inode, everything in it, .labagent/ too): the
         * job is where it was, the watch re-added, the folder's memory the same; the
         * submit that failed meanwhile was never recorded.
         */
        char cmd[1024];
        assert_int_equal(mkdir(f->hot, 0755), 0);
        snprintf(cmd, sizeof cmd,
                 "find '%s' -mindepth 1 -maxdepth 1 -exec mv {} '%s'/ \\; && rmdir '%s'", moved,
                 f->hot, moved);
        assert_int_equal(system(cmd), 0);
        lab_error_clear(&err);
        assert_int_equal(lab_printer_status(f->p, &s, &err), 0);
        assert_true(s.accepting);
        assert_int_equal(s.boot, boot);
        wait_state(f, h, LAB_PJOB_PENDING, 0);
        find_expect(f, "gone-2", -ENOENT, NULL, NULL);
        lab_printer_drain_watch(f->p);
        start_minilab(f, "succeed", "--items", "1", NULL);
        struct pollfd pfd = {.fd = lab_printer_watch_fd(f->p), .events = POLLIN};
        assert_int_equal(poll(&pfd, 1, WAIT_MS), 1);
        wait_state(f, h, LAB_PJOB_COMPLETED, WAIT_MS);
        assert_int_equal(wait_minilab(f, WAIT_MS), 0);

        /* A regular file where the folder should be. */
        lab_test_rm_rf(f->hot);
        lab_test_write_string(f->hot, "not a folder");
        lab_error_clear(&err);
        assert_int_equal(lab_printer_status(f->p, &s, &err), 0);
        assert_false(s.accepting);
        assert_string_equal(err.keyword, "hotfolder_unwritable");
        assert_false(lab_printer_status_available(&s, why, sizeof why));
        h2 = submit_file(f, "gone-3", f->src, 1, "na_index-4x6_4x6in", -ENOTDIR,
                         "hotfolder_unwritable");
        assert_null(h2);
        assert_int_equal(unlink(f->hot), 0);
        assert_int_equal(mkdir(f->hot, 0755), 0);
        free(moved);
        free(h);
}

/* Bad inputs get clear keywords; status and capabilities say what the format takes. */
static void test_inputs_and_caps(void **state)
{
        fixture_t *f = *state;
        char id[200], *missing = lab_test_path(f->dir, "nope.jpg");
        lab_printer_status_t s;
        lab_printer_caps_t caps;
        lab_pjob_status_t st;
        lab_error_t err = {0};
        char why[256], *h;

        open_printer(f);
        assert_null(submit_file(f, "bad-1", missing, 1, "na_index-4x6_4x6in", -ENOENT,
                                "printer_file_error"));
        /* 60 colons encode to 180 bytes, plus "%2F1%2F1": too long for an item name. */
        memset(id, ':', 60);
        id[60] = '\0';
        assert_null(
            submit_file(f, id, f->src, 1, "na_index-4x6_4x6in", -ENAMETOOLONG, "printer_refused"));

        char name[LAB_PRINTER_JOB_NAME_MAX];
        lab_printer_job_name(name, sizeof name, "bad-2", 1, 1);
        lab_print_request_t req = {.file = f->src,
                                   .format = "image/pwg-raster",
                                   .job_name = name,
                                   .copies = 1,
                                   .media = "na_index-4x6_4x6in"};
        h = NULL;
        assert_int_equal(lab_printer_submit(f->p, &req, &h, &err), -EINVAL);
        assert_string_equal(err.keyword, "printer_refused");
        assert_null(h);

        /* The same job twice: refused, the first stays. */
        h = submit(f, "dup-1", 1);
        assert_null(
            submit_file(f, "dup-1", f->src, 1, "na_index-4x6_4x6in", -EEXIST, "printer_refused"));
        wait_state(f, h, LAB_PJOB_PENDING, 0);
        free(h);

        /* A handle that is no item name. */
        assert_int_equal(lab_printer_job_status(f->p, "../etc", &st, &err), -EINVAL);
        assert_string_equal(err.keyword, "printer_job_unknown");

        assert_int_equal(lab_printer_capabilities(f->p, &caps, &err), 0);
        assert_true(lab_printer_caps_has(caps.media, caps.n_media, "na_index-4x6_4x6in"));
        assert_true(lab_printer_caps_has(caps.media, caps.n_media, "na_govt-letter_8x10in"));
        assert_true(lab_printer_caps_has(caps.formats, caps.n_formats, "image/jpeg"));
        assert_true(lab_printer_caps_has(caps.formats, caps.n_formats, "image/tiff"));
        assert_int_equal(caps.n_resolutions, 1);
        assert_int_equal(caps.resolutions[0], 300);
        lab_printer_caps_done(&caps);

        assert_int_equal(lab_printer_status(f->p, &s, &err), 0);
        assert_true(s.accepting);
        assert_int_equal(s.n_supplies, 0);
        assert_true(lab_printer_status_available(&s, why, sizeof why));
        if (format_enum() == LAB_HOTFOLDER_DNP) {
                /* The size folders that exist: 4x6 and 5x7. */
                assert_int_equal(s.n_media, 2);
                assert_string_equal(s.media[0].size, "na_index-4x6_4x6in");
                assert_string_equal(s.media[1].size, "na_5x7_5x7in");
                assert_null(submit_file(f, "bad-3", f->src, 1, "iso_a4_210x297mm", -EINVAL,
                                        "printer_refused"));
                assert_null(submit_file(f, "bad-4", f->src, 1, "na_govt-letter_8x10in", -EINVAL,
                                        "printer_refused"));
                /* Refused by the format after the record was made: the record went again. */
                find_expect(f, "bad-4", -ENOENT, NULL, NULL);
        } else {
                assert_true(s.n_media >= 8);
        }
        free(missing);
}

/* Write an identity file made at instant t by hand (a folder whose memory began then). */
static void plant_identity(fixture_t *f, int64_t t)
{
        char *path = state_file(f, "folder-id"), text[80];

        snprintf(text, sizeof text, "00112233445566778899aabbccddeeff %lld\n", (long long)t);
        lab_test_write_string(path, text);
        free(path);
}

/* Make an empty sent record of job id (copy 1, attempt 1) in the day directory of instant t. */
static void plant_record(fixture_t *f, const char *id, int64_t t)
{
        char name[LAB_PRINTER_JOB_NAME_MAX], item[HF_ITEM_MAX + 1], day[16], rel[256];
        char *dir, *path;

        assert_int_equal(lab_printer_job_name(name, sizeof name, id, 1, 1), 0);
        assert_int_equal(hf_item_encode(name, item, sizeof item), 0);
        assert_int_equal(hf_sent_day_name(t, day, sizeof day), 0);
        snprintf(rel, sizeof rel, "sent/%s", day);
        dir = state_file(f, rel);
        assert_true(mkdir(dir, 0755) == 0 || errno == EEXIST);
        path = lab_test_path(dir, item);
        lab_test_write_string(path, "");
        free(path);
        free(dir);
}

/* Whether the day directory of instant t exists under .labagent/sent/. */
static bool day_dir_exists(fixture_t *f, int64_t t)
{
        char day[16], rel[32], *dir;
        bool there;

        assert_int_equal(hf_sent_day_name(t, day, sizeof day), 0);
        snprintf(rel, sizeof rel, "sent/%s", day);
        dir = state_file(f, rel);
        there = access(dir, F_OK) == 0;
        free(dir);
        return there;
}

/* Empty the folder the way lab IT cleans up, leaving .labagent/ (and dnp's size folders). */
static void remove_results(fixture_t *f)
{
        char cmd[1024];

        snprintf(cmd, sizeof cmd,
                 "find '%s' -mindepth 1 -maxdepth 1 ! -name '" HF_STATE_DIR "' -exec rm -rf {} +",
                 f->hot);
        assert_int_equal(system(cmd), 0);
        assert_int_equal(count_files(f->hot, 5), 0);
        if (format_enum() == LAB_HOTFOLDER_DNP) {
                char *d4 = lab_test_path(f->hot, "4x6"), *d5 = lab_test_path(f->hot, "5x7");
                assert_int_equal(mkdir(d4, 0755), 0);
                assert_int_equal(mkdir(d5, 0755), 0);
                free(d4);
                free(d5);
        }
}

/*
 * The folder's identity: made at open, its time is status.boot and find_job's
 * memory.boot, the same across a close and reopen and a minilab at work; the
 * minilab and the stall check never take .labagent/ for work.
 */
static void test_memory_boot(void **state)
{
        fixture_t *f = *state;
        int64_t t0 = (int64_t)time(NULL), created = 0, boot;
        lab_printer_memory_t m;
        lab_printer_status_t s;
        lab_error_t err = {0};
        char *path = state_file(f, "folder-id"), *text, *again;
        size_t len;
        char *h;

        open_printer(f);
        text = lab_test_read_file(path, &len);
        if (!text)
                fail_msg("open made no %s", path);
        assert_int_equal(hf_folder_id_parse(text, len, &created), 0);
        assert_true(created >= t0 && created <= (int64_t)time(NULL));

        assert_int_equal(lab_printer_status(f->p, &s, &err), 0);
        assert_int_equal(s.boot, created);
        /* .labagent/ is no item waiting, and (dnp) no size folder. */
        assert_int_equal(s.state, LAB_PRINTER_IDLE);
        assert_int_equal(s.n_reasons, 0);
        assert_true(s.accepting);
        if (format_enum() == LAB_HOTFOLDER_DNP)
                assert_int_equal(s.n_media, 2);

        open_printer(f); /* an agent restart */
        boot = status_boot(f);
        assert_int_equal(boot, created);
        find_expect(f, "boot-0", -ENOENT, NULL, &m);
        assert_int_equal(m.boot, created);

        /* A minilab at work beside .labagent/: the work is done, the identity untouched. */
        start_minilab(f, "succeed", "--items", "1", "--poll", "1", NULL);
        h = submit(f, "boot-1", 1);
        wait_state(f, h, LAB_PJOB_COMPLETED, WAIT_MS);
        assert_int_equal(wait_minilab(f, WAIT_MS), 0);
        assert_int_equal(status_boot(f), created);
        again = lab_test_read_file(path, NULL);
        assert_non_null(again);
        assert_string_equal(again, text);
        free(again);
        free(text);
        free(path);
        free(h);
}

/*
 * A folder emptied or replaced gets a new, later identity, and so does one
 * whose identity file is unparsable or whose records are gone: copies sent
 * before then read as printer_restarted. A valid identity is never rewritten.
 */
static void test_memory_folder_replaced(void **state)
{
        fixture_t *f = *state;
        int64_t now = (int64_t)time(NULL), b1, b2, b3, b4;
        lab_printer_memory_t m;
        char *dir = lab_test_path(f->hot, HF_STATE_DIR), *sent = state_file(f, "sent");
        char *idp = state_file(f, "folder-id"), why[256];

        open_printer(f);
        b1 = status_boot(f);
        assert_true(b1 > 0);

        /* Emptied (lab IT removed .labagent/): a new identity at the next look. */
        wait_past(b1);
        lab_test_rm_rf(dir);
        b2 = status_boot(f);
        assert_true(b2 > b1);
        find_expect(f, "replaced-1", -ENOENT, NULL, &m);
        assert_int_equal(m.boot, b2);
        /* A copy sent at b1 and not found: never sent again. */
        assert_int_equal(lab_printer_may_resend(&m, b1, 60 * SEC, now, why, sizeof why),
                         LAB_RESEND_RESTARTED);
        assert_true(strncmp(why, "printer_restarted:", 18) == 0);

        /* A valid identity is kept as it is, however old. */
        plant_identity(f, now - 1000);
        assert_int_equal(status_boot(f), now - 1000);
        open_printer(f);
        assert_int_equal(status_boot(f), now - 1000);

        /* Unparsable: continuity cannot be shown, so a new identity replaces it. */
        lab_test_write_string(idp, "not an identity\n");
        b3 = status_boot(f);
        assert_true(b3 >= now);
        char *text = lab_test_read_file(idp, NULL);
        int64_t created = 0;
        assert_int_equal(hf_folder_id_parse(text, strlen(text), &created), 0);
        assert_int_equal(created, b3);
        free(text);

        /* The records gone (sent/ removed) while the identity stays: a new identity too. */
        plant_identity(f, now - 1000);
        lab_test_rm_rf(sent);
        b4 = status_boot(f);
        assert_true(b4 >= now);
        assert_int_equal(access(sent, F_OK), 0);
        /* The same on find_job alone (no status call): its memory says the new identity. */
        plant_identity(f, now - 1000);
        lab_test_rm_rf(sent);
        find_expect(f, "replaced-2", -ENOENT, NULL, &m);
        assert_true(m.boot >= now);
        free(dir);
        free(sent);
        free(idp);
}

/*
 * An item the minilab took and completed, whose result files were then
 * deleted, is UNKNOWN to find_job (the agent holds it uncertain), never
 * "not there" (-ENOENT, which may let it be sent again). job_status by its
 * handle still says printer_job_unknown.
 */
static void test_find_result_gone(void **state)
{
        fixture_t *f = *state;
        lab_printer_memory_t m;
        lab_pjob_status_t st;
        lab_error_t err = {0};
        char *h;

        open_printer(f);
        start_minilab(f, "succeed", "--items", "1", NULL);
        h = submit(f, "lost-1", 1);
        wait_state(f, h, LAB_PJOB_COMPLETED, WAIT_MS);
        assert_int_equal(wait_minilab(f, WAIT_MS), 0);
        assert_int_equal(sent_records(f), 1);

        remove_results(f);
        open_printer(f); /* the agent restarts and looks its copy up */
        find_expect(f, "lost-1", 0, &st, &m);
        assert_int_equal(st.state, LAB_PJOB_UNKNOWN);
        assert_string_equal(st.reasons, "printer_forgot");
        assert_non_null(strstr(st.message, "result is gone"));
        assert_true(m.boot > 0);
        assert_int_equal(lab_printer_job_status(f->p, h, &st, &err), -ENOENT);
        assert_string_equal(err.keyword, "printer_job_unknown");
        free(h);

        /* The same for an item the minilab failed, once its error area was cleaned. */
        start_minilab(f, "fail", "--items", "1", NULL);
        h = submit(f, "lost-2", 1);
        wait_state(f, h, LAB_PJOB_ABORTED, WAIT_MS);
        assert_int_equal(wait_minilab(f, WAIT_MS), 0);
        remove_results(f);
        find_expect(f, "lost-2", 0, &st, NULL);
        assert_int_equal(st.state, LAB_PJOB_UNKNOWN);
        free(h);
}

/*
 * A job name never submitted: -ENOENT with the folder's memory (boot, and
 * records complete since), which lets a copy sent since be sent again. The
 * records are kept HF_SENT_KEEP_DAYS days: older day directories are pruned
 * (mark first), and from then the memory reaches back only to the oldest day
 * kept; the mark never goes back.
 */
static void test_find_never_sent(void **state)
{
        fixture_t *f = *state;
        const int64_t day = 86400;
        int64_t before = (int64_t)time(NULL), after, keep;
        lab_printer_memory_t m;
        lab_pjob_status_t st;
        char why[256], *mark = state_file(f, "pruned-before"), *text;

        open_printer(f);
        find_expect(f, "never-1", -ENOENT, NULL, &m);
        after = (int64_t)time(NULL);
        assert_true(m.boot >= before && m.boot <= after);
        assert_true(m.complete_since > 0);
        assert_true(m.complete_since >= m.boot);
        assert_true(m.complete_since <= after);
        /* Sent after the memory began and not there: provably never got there. */
        assert_int_equal(
            lab_printer_may_resend(&m, m.boot + 3, 60 * SEC, after + 3, why, sizeof why),
            LAB_RESEND_OK);

        /* An identity 40 days old; records of 35 and of 5 days ago. */
        plant_identity(f, before - 40 * day);
        plant_record(f, "old-1", before - 35 * day);
        plant_record(f, "recent-1", before - 5 * day);
        open_printer(f);
        assert_true(status_boot(f) == before - 40 * day); /* the first status prunes */
        after = (int64_t)time(NULL);
        assert_false(day_dir_exists(f, before - 35 * day));
        assert_true(day_dir_exists(f, before - 5 * day));
        text = lab_test_read_file(mark, NULL);
        if (!text)
                fail_msg("no %s after a prune", mark);
        keep = strtoll(text, NULL, 10);
        free(text);
        assert_true(keep == (before / day - HF_SENT_KEEP_DAYS) * day ||
                    keep == (after / day - HF_SENT_KEEP_DAYS) * day);

        find_expect(f, "recent-1", 0, &st, NULL);
        assert_int_equal(st.state, LAB_PJOB_UNKNOWN);
        find_expect(f, "old-1", -ENOENT, NULL, &m);
        assert_int_equal(m.boot, before - 40 * day);
        assert_int_equal(m.complete_since, keep);
        /* A copy sent 35 days ago: its record may be gone, so it is not sent again. */
        assert_int_equal(
            lab_printer_may_resend(&m, before - 35 * day, 60 * SEC, after, why, sizeof why),
            LAB_RESEND_FORGOT);

        /* A mark ahead of the clock (set back after a prune) is believed, and kept. */
        lab_test_write_string(mark, "4000000000\n");
        find_expect(f, "never-2", -ENOENT, NULL, &m);
        assert_int_equal(m.complete_since, 4000000000);
        open_printer(f);
        (void)status_boot(f);
        text = lab_test_read_file(mark, NULL);
        assert_non_null(text);
        assert_string_equal(text, "4000000000\n");
        free(text);
        /* An unreadable mark: the records are complete only from now on. */
        lab_test_write_string(mark, "garbage");
        before = (int64_t)time(NULL);
        find_expect(f, "never-3", -ENOENT, NULL, &m);
        assert_true(m.complete_since >= before && m.complete_since <= (int64_t)time(NULL));
        free(mark);
}

/*
 * The record of a send is durable before anything of the item appears: in
 * one inotify queue (events in the order they happened) the record's
 * creation comes before every name of the item in the ready area.
 */
static void test_record_before_visible(void **state)
{
        fixture_t *f = *state;
        enum { N = 3 };
        char buf[64 * 1024] __attribute__((aligned(__alignof__(struct inotify_event))));
        char items[N][HF_ITEM_MAX + 1], name[LAB_PRINTER_JOB_NAME_MAX], id[32], day[16], rel[32];
        bool recorded[N] = {false}, appeared[N] = {false};
        int64_t now = (int64_t)time(NULL);
        char *ready, *dirs[2];
        int fd, wd_ready, wd_days[2];

        open_printer(f);
        /* Today's and tomorrow's day directories (a test running over midnight UTC). */
        for (int d = 0; d < 2; d++) {
                assert_int_equal(hf_sent_day_name(now + d * 86400, day, sizeof day), 0);
                snprintf(rel, sizeof rel, "sent/%s", day);
                dirs[d] = state_file(f, rel);
                assert_true(mkdir(dirs[d], 0755) == 0 || errno == EEXIST);
        }
        ready = format_enum() == LAB_HOTFOLDER_DNP ? lab_test_path(f->hot, "4x6")
                                                   : lab_test_path(f->hot, "");
        fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        assert_true(fd >= 0);
        wd_ready = inotify_add_watch(fd, ready, IN_CREATE | IN_MOVED_TO);
        assert_true(wd_ready >= 0);
        for (int d = 0; d < 2; d++) {
                wd_days[d] = inotify_add_watch(fd, dirs[d], IN_CREATE);
                assert_true(wd_days[d] >= 0);
        }
        for (int i = 0; i < N; i++) {
                snprintf(id, sizeof id, "rec-%d", i);
                char *h = submit(f, id, 1);
                assert_int_equal(lab_printer_job_name(name, sizeof name, id, 1, 1), 0);
                assert_int_equal(hf_item_encode(name, items[i], sizeof items[i]), 0);
                assert_string_equal(h, items[i]);
                free(h);
        }
        for (;;) {
                ssize_t n = read(fd, buf, sizeof buf);
                if (n <= 0)
                        break;
                for (char *c = buf; c < buf + n;) {
                        struct inotify_event *ev = (struct inotify_event *)c;
                        c += sizeof *ev + ev->len;
                        if (ev->mask & IN_Q_OVERFLOW)
                                fail_msg("inotify queue overflow: cannot check the order");
                        if (ev->len == 0)
                                continue;
                        for (int i = 0; i < N; i++) {
                                if (ev->wd != wd_ready && strcmp(ev->name, items[i]) == 0)
                                        recorded[i] = true;
                                if (ev->wd == wd_ready && strstr(ev->name, items[i])) {
                                        if (!recorded[i])
                                                fail_msg("%s appeared in the folder before "
                                                         "the record of its send",
                                                         ev->name);
                                        appeared[i] = true;
                                }
                        }
                }
        }
        for (int i = 0; i < N; i++) {
                assert_true(recorded[i]);
                assert_true(appeared[i]);
        }
        assert_int_equal(sent_records(f), N);
        close(fd);
        free(ready);
        free(dirs[0]);
        free(dirs[1]);
}

/* Run every scenario for the format in argv[1]. */
int main(int argc, char **argv)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(test_success, setup, teardown),
            cmocka_unit_test_setup_teardown(test_error, setup, teardown),
            cmocka_unit_test_setup_teardown(test_stall, setup, teardown),
            cmocka_unit_test_setup_teardown(test_find_after_reopen, setup, teardown),
            cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
            cmocka_unit_test_setup_teardown(test_watch_fd, setup, teardown),
            cmocka_unit_test_setup_teardown(test_atomicity, setup, teardown),
            cmocka_unit_test_setup_teardown(test_write_failure, setup, teardown),
            cmocka_unit_test_setup_teardown(test_unwritable, setup, teardown),
            cmocka_unit_test_setup_teardown(test_inputs_and_caps, setup, teardown),
            cmocka_unit_test_setup_teardown(test_memory_boot, setup, teardown),
            cmocka_unit_test_setup_teardown(test_memory_folder_replaced, setup, teardown),
            cmocka_unit_test_setup_teardown(test_find_result_gone, setup, teardown),
            cmocka_unit_test_setup_teardown(test_find_never_sent, setup, teardown),
            cmocka_unit_test_setup_teardown(test_record_before_visible, setup, teardown),
        };

        if (argc > 1)
                format_name = argv[1];
        signal(SIGPIPE, SIG_IGN);
        return cmocka_run_group_tests_name(format_name, tests, NULL, NULL);
}
