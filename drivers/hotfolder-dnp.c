/*
 * hotfolder-dnp.c - the DNP-style hot-folder format: one sub-folder per print
 * size ("4x6", "5x7", ...), one image file per copy, marked by the printer
 * with a suffix as it goes (.printing, .printed, .error).
 *
 * Why: the DNP hot-folder print utility (and similar dye-sub front-ends)
 * watch a folder per paper size and print every image dropped in it once;
 * there is no order file, so copies are files (<item>~<k>.jpg, hard links of
 * one written file) and the size is the folder. The file name is the state,
 * a rename is atomic, so our cancel (rename to .canceled) and the printer's
 * take-up (rename to .printing or .printed) can never both win. Protocol:
 * docs/hotfolders.md, "dnp".
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "hotfolder-private.h"
#include "io-util.h"
#include "macro.h"

/* One file per copy: a sane upper bound for one job. */
#define DNP_COPIES_MAX 99

/* What the printer does to a copy's file name, and what it means. */
typedef enum dnp_mark_e {
        DNP_WAITING,  /* no suffix */
        DNP_PRINTING, /* .printing */
        DNP_PRINTED,  /* .printed */
        DNP_ERROR,    /* .error (reason in <file>.error.txt) */
        DNP_CANCELED, /* .canceled (ours) */
        DNP_MARK_MAX,
} dnp_mark_t;

static const char *const mark_suffix[DNP_MARK_MAX] = {
    [DNP_WAITING] = "",     [DNP_PRINTING] = ".printing", [DNP_PRINTED] = ".printed",
    [DNP_ERROR] = ".error", [DNP_CANCELED] = ".canceled",
};

/*
 * Split "<item>~<k>.<jpg|tif><suffix>" into its parts. 0, or -EINVAL when
 * the name is not a copy of an item (the reason files <file>.error.txt are not).
 */
static int dnp_parse(const char *name, char item[static HF_ITEM_MAX + 1], unsigned *k,
                     dnp_mark_t *mark)
{
        char decoded[HF_ITEM_MAX * 3 + 1];
        const char *tilde = strrchr(name, '~'), *c;
        unsigned v = 0;

        if (!tilde || tilde == name || (size_t)(tilde - name) > HF_ITEM_MAX)
                return -EINVAL;
        memcpy(item, name, (size_t)(tilde - name));
        item[tilde - name] = '\0';
        if (hf_item_decode(item, decoded, sizeof decoded) < 0)
                return -EINVAL;
        for (c = tilde + 1; *c >= '0' && *c <= '9' && c - tilde <= 3; c++)
                v = v * 10 + (unsigned)(*c - '0');
        if (c == tilde + 1 || v == 0 || tilde[1] == '0')
                return -EINVAL;
        if (strncmp(c, ".jpg", 4) != 0 && strncmp(c, ".tif", 4) != 0)
                return -EINVAL;
        c += 4;
        for (int m = 0; m < DNP_MARK_MAX; m++)
                if (strcmp(c, mark_suffix[m]) == 0) {
                        *k = v;
                        *mark = (dnp_mark_t)m;
                        return 0;
                }
        return -EINVAL;
}

/* Call fn for every copy of item (or of any item, item NULL) in every size folder there is. */
static int dnp_foreach(hf_t *h, const char *item,
                       void (*fn)(hf_t *h, const char *dir, const char *file, const char *it,
                                  dnp_mark_t mark, void *userdata),
                       void *userdata)
{
        size_t n;
        const hf_media_t *m = hf_media_table(&n);

        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *dir = hf_strf("%s/%s", h->folder, m[i].short_name);
                DIR *d;
                struct dirent *de;

                if (!dir)
                        return -ENOMEM;
                d = opendir(dir);
                if (!d) {
                        if (errno == ENOENT || errno == ENOTDIR)
                                continue;
                        return -errno;
                }
                while ((de = readdir(d))) {
                        char it[HF_ITEM_MAX + 1];
                        unsigned k;
                        dnp_mark_t mark;

                        if (de->d_name[0] == '.' || dnp_parse(de->d_name, it, &k, &mark) < 0)
                                continue;
                        if (item && strcmp(it, item) != 0)
                                continue;
                        fn(h, dir, de->d_name, it, mark, userdata);
                }
                closedir(d);
        }
        return 0;
}

/* One file per copy in the size's folder: written once, hard-linked per copy. */
static int dnp_submit(hf_t *h, const lab_print_request_t *req, const char *item, lab_error_t *err)
{
        const hf_media_t *m = hf_media_find(req->media);
        const char *ext = hf_mime_ext(req->format);
        char names[DNP_COPIES_MAX][HF_ITEM_MAX + 16];
        const char *namev[DNP_COPIES_MAX];
        _cleanup_free_ char *dir = NULL;
        struct stat st;
        hf_source_t src = {.path = req->file};

        if (!m) {
                size_t n;
                const hf_media_t *t = hf_media_table(&n);
                char known[256] = "";
                for (size_t i = 0; i < n; i++)
                        snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s",
                                 i ? ", " : "", t[i].short_name);
                return lab_error_set(err, EINVAL, "printer_refused",
                                     "printer %s: media %s has no DNP size folder (known: %s)",
                                     h->base.name, req->media, known);
        }
        if (req->copies > DNP_COPIES_MAX)
                return lab_error_set(err, EINVAL, "printer_refused",
                                     "printer %s: at most %d copies per job, not %u", h->base.name,
                                     DNP_COPIES_MAX, req->copies);
        dir = hf_strf("%s/%s", h->folder, m->short_name);
        if (!dir)
                return hf_unwritable(h, err, -ENOMEM, "build", item);
        if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
                return lab_error_set(err, EINVAL, "printer_refused",
                                     "printer %s: no size folder %s: the printer does not take "
                                     "%s (%s) now",
                                     h->base.name, dir, m->short_name, req->media);
        for (unsigned k = 0; k < req->copies; k++) {
                snprintf(names[k], sizeof names[k], "%s~%u.%s", item, k + 1, ext);
                namev[k] = names[k];
        }
        return hf_publish(h, dir, namev, req->copies, &src, err);
}

/*
 * Where copy k of item stands: its mark, or -ENOENT. Names are tried in
 * lifecycle order (waiting, printing, printed, error, canceled): the printer
 * only renames forward, so a rename racing this look is found, never missed
 * (a directory listing could miss it).
 */
static int dnp_copy_mark(const char *dir, const char *item, unsigned k, const char *ext,
                         dnp_mark_t *mark)
{
        for (int m = 0; m < DNP_MARK_MAX; m++) {
                _cleanup_free_ char *p =
                    hf_strf("%s/%s~%u.%s%s", dir, item, k, ext, mark_suffix[m]);
                if (!p)
                        return -ENOMEM;
                if (hf_exists(p, NULL)) {
                        *mark = (dnp_mark_t)m;
                        return 0;
                }
        }
        return -ENOENT;
}

/* Find the size folder (malloc'd) and extension of item's copy 1. -ENOENT when nowhere. */
static int dnp_locate(hf_t *h, const char *item, char **ret_dir, const char **ret_ext)
{
        static const char *const exts[] = {"jpg", "tif"};
        size_t n;
        const hf_media_t *m = hf_media_table(&n);

        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *dir = hf_strf("%s/%s", h->folder, m[i].short_name);
                dnp_mark_t mark;

                if (!dir)
                        return -ENOMEM;
                for (size_t e = 0; e < ELEMENTSOF(exts); e++) {
                        int r = dnp_copy_mark(dir, item, 1, exts[e], &mark);
                        if (r == -ENOENT)
                                continue;
                        if (r < 0)
                                return r;
                        *ret_dir = TAKE_PTR(dir);
                        *ret_ext = exts[e];
                        return 0;
                }
        }
        return -ENOENT;
}

/*
 * The job's state from its copies 1..N (N: the first copy not there, less
 * one): an error wins, then printing, then waiting, then canceled, then done.
 */
static int dnp_item_status(hf_t *h, const char *item, lab_pjob_status_t *ret)
{
        _cleanup_free_ char *dir = NULL;
        const char *ext;
        unsigned marks[DNP_MARK_MAX] = {0}, first_error = 0;
        int r = dnp_locate(h, item, &dir, &ext);

        if (r < 0)
                return r;
        for (unsigned k = 1; k <= DNP_COPIES_MAX; k++) {
                dnp_mark_t mark;
                r = dnp_copy_mark(dir, item, k, ext, &mark);
                if (r == -ENOENT)
                        break;
                if (r < 0)
                        return r;
                marks[mark]++;
                if (mark == DNP_ERROR && !first_error)
                        first_error = k;
        }
        ret->impressions_completed = (int)marks[DNP_PRINTED];
        if (marks[DNP_ERROR]) {
                _cleanup_free_ char *txt =
                    hf_strf("%s/%s~%u.%s.error.txt", dir, item, first_error, ext);
                ret->state = LAB_PJOB_ABORTED;
                snprintf(ret->reasons, sizeof ret->reasons, "aborted-by-system");
                if (!txt || hf_read_reason(txt, ret->message, sizeof ret->message) < 0 ||
                    !ret->message[0])
                        snprintf(ret->message, sizeof ret->message,
                                 "the printer reported an error without a reason");
        } else if (marks[DNP_PRINTING] || (marks[DNP_PRINTED] && marks[DNP_WAITING])) {
                ret->state = LAB_PJOB_PROCESSING;
                snprintf(ret->reasons, sizeof ret->reasons, "job-printing");
        } else if (marks[DNP_WAITING]) {
                ret->state = LAB_PJOB_PENDING;
                snprintf(ret->reasons, sizeof ret->reasons, "job-queued");
        } else if (marks[DNP_CANCELED]) {
                ret->state = LAB_PJOB_CANCELED;
                snprintf(ret->reasons, sizeof ret->reasons, "job-canceled-by-user");
        } else {
                ret->state = LAB_PJOB_COMPLETED;
                snprintf(ret->reasons, sizeof ret->reasons, "job-completed-successfully");
        }
        return 0;
}

/* Rename every waiting copy to .canceled; a copy the printer took first stays its. */
static int dnp_cancel(hf_t *h, const char *item, lab_error_t *err)
{
        _cleanup_free_ char *dir = NULL;
        const char *ext;
        unsigned canceled = 0, taken = 0;
        int r = dnp_locate(h, item, &dir, &ext);

        if (r < 0)
                return r == -ENOENT ? -EBUSY : hf_unwritable(h, err, r, "withdraw", item);
        for (unsigned k = 1; k <= DNP_COPIES_MAX; k++) {
                _cleanup_free_ char *from = hf_strf("%s/%s~%u.%s", dir, item, k, ext);
                _cleanup_free_ char *to = hf_strf("%s/%s~%u.%s.canceled", dir, item, k, ext);
                dnp_mark_t mark;

                r = dnp_copy_mark(dir, item, k, ext, &mark);
                if (r == -ENOENT)
                        break;
                if (r == 0 && (!from || !to))
                        r = -ENOMEM;
                if (r < 0)
                        return hf_unwritable(h, err, r, "withdraw", item);
                if (mark != DNP_WAITING) {
                        taken += mark != DNP_CANCELED;
                        continue;
                }
                if (rename(from, to) == 0)
                        canceled++;
                else if (errno == ENOENT)
                        taken++; /* the printer renamed it first */
                else
                        return hf_unwritable(h, err, -errno, "withdraw", from);
        }
        (void)lab_fsync_dir(dir);
        if (taken > 0 || canceled == 0)
                return lab_error_set(err, EBUSY, "printer_refused",
                                     "printer %s: the minilab has already taken up %u cop%s of "
                                     "%s; %u waiting cop%s canceled",
                                     h->base.name, taken, taken == 1 ? "y" : "ies", item, canceled,
                                     canceled == 1 ? "y was" : "ies were");
        return 0;
}

/* dnp_foreach callback: a waiting copy counts, the oldest one names the stall. */
static void waiting_one(hf_t *h, const char *dir, const char *file, const char *it, dnp_mark_t mark,
                        void *userdata)
{
        hf_waiting_t *w = userdata;
        _cleanup_free_ char *p = hf_strf("%s/%s", dir, file);
        uint64_t mtime;

        if (mark != DNP_WAITING || !p || !hf_exists(p, &mtime))
                return;
        hf_waiting_add(w, it, mtime);
}

/* Copies waiting in any size folder. */
static int dnp_waiting(hf_t *h, hf_waiting_t *ret)
{
        return dnp_foreach(h, NULL, waiting_one, ret);
}

/* The size folders that exist: the sizes the printer takes now. */
static void dnp_loaded_media(hf_t *h, lab_printer_status_t *st)
{
        size_t n;
        const hf_media_t *m = hf_media_table(&n);

        for (size_t i = 0; i < n && st->n_media < LAB_PRINTER_MEDIA_MAX; i++) {
                _cleanup_free_ char *dir = hf_strf("%s/%s", h->folder, m[i].short_name);
                struct stat sb;

                if (dir && stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode))
                        snprintf(st->media[st->n_media++].size, sizeof st->media[0].size, "%s",
                                 m[i].pwg);
        }
}

/* Replies are renames inside the size folders. */
static void dnp_watch(hf_t *h)
{
        size_t n;
        const hf_media_t *m = hf_media_table(&n);

        for (size_t i = 0; i < n; i++)
                hf_watch(h, m[i].short_name);
}

const hf_format_t hf_format_dnp = {
    .name = "dnp",
    .submit = dnp_submit,
    .item_status = dnp_item_status,
    .cancel = dnp_cancel,
    .waiting = dnp_waiting,
    .loaded_media = dnp_loaded_media,
    .watch = dnp_watch,
};
