/*
 * hotfolder-noritsu.c - the Noritsu-style hot-folder format: one DPOF order
 * folder per job (IMAGE/ with the print file, MISC/AUTPRINT.MRK), built
 * under "_tmp_<item>" and renamed to "<item>" when complete.
 *
 * Why: Noritsu QSS/HS front-ends and most order-station software import DPOF
 * order folders. The folder name is the state: the machine renames it to
 * "_acc_<item>" when it takes it up, "_done_<item>" when printed,
 * "_err_<item>" (with ERROR.TXT inside) when it failed; we rename it to
 * "_can_<item>" to cancel. A rename is atomic, so a cancel and a take-up can
 * never both win. Protocol: docs/hotfolders.md, "noritsu".
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "hotfolder-private.h"
#include "io-util.h"
#include "macro.h"

/* Folder-name prefixes: ours (tmp, can) and the machine's (acc, done, err). */
#define NORITSU_TMP  "_tmp_"
#define NORITSU_ACC  "_acc_"
#define NORITSU_DONE "_done_"
#define NORITSU_ERR  "_err_"
#define NORITSU_CAN  "_can_"

/* DPOF PRT QTY has three digits. */
#define NORITSU_COPIES_MAX 999

/* The DPOF 1.10 job file for one image; returns a malloc'd string (CRLF lines). */
static char *mrk_build(const lab_print_request_t *req, const char *image)
{
        const hf_media_t *m = hf_media_find(req->media);
        time_t now = time(NULL);
        struct tm tm;
        char dtm[32];

        localtime_r(&now, &tm);
        strftime(dtm, sizeof dtm, "%Y:%m:%d:%H:%M:%S", &tm);
        return hf_strf("[HDR]\r\n"
                       "GEN REV = 01.10\r\n"
                       "GEN CRT = \"labagent\" -%s\r\n"
                       "GEN DTM = %s\r\n"
                       "\r\n"
                       "[JOB]\r\n"
                       "PRT PID = 001\r\n"
                       "PRT TYP = STD\r\n"
                       "PRT QTY = %03u\r\n"
                       "IMG FMT = %s\r\n"
                       "<IMG SRC = \"../IMAGE/%s\">\r\n"
                       "VUQ RGN = BGN\r\n"
                       "VUQ VNM = \"LABAGENT\"\r\n"
                       "VUQ VER = 01.00\r\n"
                       "LAB JOB = \"%s\"\r\n"
                       "LAB ORD = \"%s\"\r\n"
                       "LAB MED = \"%s\"\r\n"
                       "LAB SIZ = \"%s\"\r\n"
                       "LAB MTY = \"%s\"\r\n"
                       "LAB PIX = %u %u\r\n"
                       "LAB DPI = %u\r\n"
                       "VUQ RGN = END\r\n",
                       LABAGENT_VERSION, dtm, req->copies,
                       strcmp(req->format, "image/tiff") == 0 ? "EXIF2 -T" : "EXIF2 -J", image,
                       req->job_name, req->order_id ? req->order_id : "", req->media,
                       m ? m->short_name : "", req->media_type ? req->media_type : "", req->width,
                       req->height, req->dpi);
}

/* Whether s can go between DPOF double quotes. */
static bool dpof_quotable(const char *s)
{
        for (; s && *s; s++)
                if (*s == '"' || (unsigned char)*s < 0x20 || *s == 0x7f)
                        return false;
        return true;
}

/* Build the order folder under _tmp_<item>, fsync everything, rename it to <item>. */
static int noritsu_submit(hf_t *h, const lab_print_request_t *req, const char *item,
                          lab_error_t *err)
{
        const bool tiff = strcmp(req->format, "image/tiff") == 0;
        const char *image = tiff ? "IMG0001.TIF" : "IMG0001.JPG", *mrk_name = "AUTPRINT.MRK";
        _cleanup_free_ char *tmp = hf_strf("%s/" NORITSU_TMP "%s", h->folder, item);
        _cleanup_free_ char *ready = hf_strf("%s/%s", h->folder, item);
        _cleanup_free_ char *img_dir = hf_strf("%s/" NORITSU_TMP "%s/IMAGE", h->folder, item);
        _cleanup_free_ char *misc_dir = hf_strf("%s/" NORITSU_TMP "%s/MISC", h->folder, item);
        _cleanup_free_ char *mrk = NULL;
        hf_source_t src = {.path = req->file};
        int r;

        if (req->copies > NORITSU_COPIES_MAX)
                return lab_error_set(err, EINVAL, "printer_refused",
                                     "printer %s: DPOF takes at most %d copies, not %u",
                                     h->base.name, NORITSU_COPIES_MAX, req->copies);
        if (!dpof_quotable(req->order_id) || !dpof_quotable(req->media_type) ||
            !dpof_quotable(req->media) || !dpof_quotable(req->job_name))
                return lab_error_set(err, EINVAL, "printer_refused",
                                     "printer %s: job name, order id, media or media type holds a "
                                     "quote or control character DPOF cannot carry",
                                     h->base.name);
        if (!tmp || !ready || !img_dir || !misc_dir)
                return hf_unwritable(h, err, -ENOMEM, "build", item);
        /* A _tmp_ folder left by a crash mid-write was never visible: start over. */
        (void)hf_rm_rf(tmp);
        r = hf_mkdir(tmp);
        if (r >= 0)
                r = hf_mkdir(img_dir);
        if (r >= 0)
                r = hf_mkdir(misc_dir);
        if (r < 0) {
                hf_unwritable(h, err, r, "create", tmp);
                goto fail;
        }
        r = hf_publish(h, img_dir, &image, 1, &src, err);
        if (r < 0)
                goto fail;
        mrk = mrk_build(req, image);
        if (!mrk) {
                r = hf_unwritable(h, err, -ENOMEM, "build the order file for", item);
                goto fail;
        }
        r = hf_publish(h, misc_dir, &mrk_name, 1, &(hf_source_t){.data = mrk, .size = strlen(mrk)},
                       err);
        if (r < 0)
                goto fail;
        /* The folder's time is when it became visible: that is what stall detection reads. */
        (void)utimensat(AT_FDCWD, tmp, NULL, 0);
        r = lab_fsync_dir(tmp);
        if (r == 0 && rename(tmp, ready) < 0)
                r = -errno;
        if (r < 0) {
                hf_unwritable(h, err, r, "publish", ready);
                goto fail;
        }
        r = lab_fsync_dir(h->folder);
        if (r < 0) {
                hf_unwritable(h, err, r, "sync", h->folder);
                (void)hf_rm_rf(ready);
                (void)lab_fsync_dir(h->folder);
                return r;
        }
        return 0;
fail:
        (void)hf_rm_rf(tmp);
        return r;
}

/* Whether folder/<prefix><item> exists. */
static bool has(hf_t *h, const char *prefix, const char *item)
{
        _cleanup_free_ char *p = hf_strf("%s/%s%s", h->folder, prefix, item);
        return p && hf_exists(p, NULL);
}

/* The machine's reason: _err_<item>/ERROR.TXT, or _err_<item> itself when it is a file. */
static void noritsu_reason(hf_t *h, const char *item, char *buf, size_t size)
{
        _cleanup_free_ char *in = hf_strf("%s/" NORITSU_ERR "%s/ERROR.TXT", h->folder, item);
        _cleanup_free_ char *file = hf_strf("%s/" NORITSU_ERR "%s", h->folder, item);

        buf[0] = '\0';
        if (!(in && hf_read_reason(in, buf, size) == 0 && buf[0]) && file)
                (void)hf_read_reason(file, buf, size);
        if (!buf[0])
                snprintf(buf, size, "the minilab reported an error without a reason");
}

/*
 * The folder name says it all. Look in lifecycle order (ready, accepted, the
 * ends, canceled): the machine only renames forward, so a rename racing this
 * look is found one step on, never missed.
 */
static int noritsu_item_status(hf_t *h, const char *item, lab_pjob_status_t *ret)
{
        if (has(h, "", item)) {
                ret->state = LAB_PJOB_PENDING;
                snprintf(ret->reasons, sizeof ret->reasons, "job-queued");
        } else if (has(h, NORITSU_ACC, item)) {
                ret->state = LAB_PJOB_PROCESSING;
                snprintf(ret->reasons, sizeof ret->reasons, "job-printing");
        } else if (has(h, NORITSU_ERR, item)) {
                ret->state = LAB_PJOB_ABORTED;
                snprintf(ret->reasons, sizeof ret->reasons, "aborted-by-system");
                noritsu_reason(h, item, ret->message, sizeof ret->message);
        } else if (has(h, NORITSU_DONE, item)) {
                ret->state = LAB_PJOB_COMPLETED;
                snprintf(ret->reasons, sizeof ret->reasons, "job-completed-successfully");
        } else if (has(h, NORITSU_CAN, item)) {
                ret->state = LAB_PJOB_CANCELED;
                snprintf(ret->reasons, sizeof ret->reasons, "job-canceled-by-user");
        } else {
                return -ENOENT;
        }
        return 0;
}

/* Rename <item> to _can_<item> (fails if the machine renamed it first), then drop the image. */
static int noritsu_cancel(hf_t *h, const char *item, lab_error_t *err)
{
        _cleanup_free_ char *from = hf_strf("%s/%s", h->folder, item);
        _cleanup_free_ char *to = hf_strf("%s/" NORITSU_CAN "%s", h->folder, item);
        _cleanup_free_ char *image = hf_strf("%s/" NORITSU_CAN "%s/IMAGE", h->folder, item);

        if (!from || !to || !image)
                return hf_unwritable(h, err, -ENOMEM, "cancel", item);
        if (rename(from, to) < 0) {
                if (errno == ENOENT)
                        return -EBUSY;
                return hf_unwritable(h, err, -errno, "withdraw", from);
        }
        (void)lab_fsync_dir(h->folder);
        (void)hf_rm_rf(image);
        return 0;
}

/* Ready order folders: directories named like an item, without a prefix. */
static int noritsu_waiting(hf_t *h, hf_waiting_t *ret)
{
        return hf_inbox_waiting(h, "", true, ret);
}

/* Every reply is a rename in the folder itself, which is always watched. */
static void noritsu_watch(hf_t *h)
{
}

const hf_format_t hf_format_noritsu = {
    .name = "noritsu",
    .submit = noritsu_submit,
    .item_status = noritsu_item_status,
    .cancel = noritsu_cancel,
    .waiting = noritsu_waiting,
    .loaded_media = hf_all_media,
    .watch = noritsu_watch,
};
