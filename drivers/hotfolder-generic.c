/*
 * hotfolder-generic.c - the generic hot-folder format: the print file plus a
 * JSON sidecar in the folder; the minilab moves both to done/ or error/.
 *
 * Why: most minilab front-ends (and any script a lab writes) can be set up
 * to take "an image and a small JSON file". The sidecar is published last
 * and is the item's lock: whoever renames <item>.json out of the inbox owns
 * the item (the minilab to processing/, done/ or error/; we to canceled/ when
 * cancelling), so a cancel and a take-up can never both win. Protocol:
 * docs/hotfolders.md, "generic".
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "hotfolder-private.h"
#include "io-util.h"
#include "macro.h"

/* The areas the minilab (and cancel) move items into, relative to the folder. */
static const char *const areas[] = {"processing", "done", "error", "canceled"};

/* Free a string json_dumps() made. */
static void json_freep(char **s)
{
        free(*s);
}

/* The sidecar: everything a minilab needs to print the file without asking. */
static char *sidecar_build(const lab_print_request_t *req, const char *item, const char *file,
                           const hf_source_t *src)
{
        const hf_media_t *m = hf_media_find(req->media);
        _cleanup_(json_decrefp) json_t *o = json_pack(
            "{s:i, s:s, s:s, s:s?, s:I, s:s, s:s?, s:s?, s:I, s:I, s:I, s:s, s:s, s:I, s:s}",
            "version", 1, "job_name", req->job_name, "item", item, "order_id", req->order_id,
            "copies", (json_int_t)req->copies, "media", req->media, "media_size",
            m ? m->short_name : NULL, "media_type", req->media_type, "width",
            (json_int_t)req->width, "height", (json_int_t)req->height, "dpi", (json_int_t)req->dpi,
            "file", file, "format", req->format, "bytes", (json_int_t)src->bytes, "sha256",
            src->sha256);

        return o ? json_dumps(o, JSON_INDENT(2)) : NULL;
}

/* Print file, then its sidecar; the sidecar appearing is what makes the item ready. */
static int generic_submit(hf_t *h, const lab_print_request_t *req, const char *item,
                          lab_error_t *err)
{
        char file[HF_ITEM_MAX + 8], sidecar[HF_ITEM_MAX + 8];
        const char *fname = file, *sname = sidecar;
        hf_source_t src = {.path = req->file};
        _cleanup_(json_freep) char *json = NULL;
        int r;

        for (size_t i = 0; i < ELEMENTSOF(areas); i++) {
                _cleanup_free_ char *dir = hf_strf("%s/%s", h->folder, areas[i]);
                r = dir ? hf_mkdir(dir) : -ENOMEM;
                if (r < 0)
                        return hf_unwritable(h, err, r, "create", dir ? dir : areas[i]);
        }
        snprintf(file, sizeof file, "%s.%s", item, hf_mime_ext(req->format));
        snprintf(sidecar, sizeof sidecar, "%s.json", item);
        r = hf_publish(h, h->folder, &fname, 1, &src, err);
        if (r < 0)
                return r;
        json = sidecar_build(req, item, file, &src);
        if (!json)
                r = hf_unwritable(h, err, -ENOMEM, "build the sidecar for", item);
        else
                r = hf_publish(h, h->folder, &sname, 1,
                               &(hf_source_t){.data = json, .size = strlen(json)}, err);
        if (r < 0) {
                /* No sidecar, no item: take the print file back. */
                _cleanup_free_ char *path = hf_strf("%s/%s", h->folder, file);
                if (path)
                        (void)unlink(path);
                (void)lab_fsync_dir(h->folder);
        }
        return r;
}

/* The reason of a failed item: error/<item>.error, else the sidecar's "error" field. */
static void generic_reason(hf_t *h, const char *item, char *buf, size_t size)
{
        _cleanup_free_ char *txt = hf_strf("%s/error/%s.error", h->folder, item);
        _cleanup_free_ char *js = hf_strf("%s/error/%s.json", h->folder, item);
        _cleanup_(json_decrefp) json_t *o = NULL;
        const char *s;

        buf[0] = '\0';
        if (txt && hf_read_reason(txt, buf, size) == 0 && buf[0])
                return;
        if (js)
                o = json_load_file(js, 0, NULL);
        s = o ? json_string_value(json_object_get(o, "error")) : NULL;
        if (s)
                hf_reason_clean(s, strlen(s), buf, size);
        if (!buf[0])
                snprintf(buf, size, "the minilab reported an error without a reason");
}

/* Whether folder/area/name exists ("" area: the folder itself). */
static bool in_area(hf_t *h, const char *area, const char *item, const char *suffix)
{
        _cleanup_free_ char *p = area[0] ? hf_strf("%s/%s/%s%s", h->folder, area, item, suffix)
                                         : hf_strf("%s/%s%s", h->folder, item, suffix);
        return p && hf_exists(p, NULL);
}

/*
 * Look in lifecycle order (inbox, processing, then the ends): the sidecar only
 * moves forward, by rename, so a reply racing this look is found one step on,
 * never missed. Of the two ends an error wins (a minilab reporting both failed).
 */
static int generic_item_status(hf_t *h, const char *item, lab_pjob_status_t *ret)
{
        if (in_area(h, "", item, ".json")) {
                ret->state = LAB_PJOB_PENDING;
                snprintf(ret->reasons, sizeof ret->reasons, "job-queued");
        } else if (in_area(h, "processing", item, ".json")) {
                ret->state = LAB_PJOB_PROCESSING;
                snprintf(ret->reasons, sizeof ret->reasons, "job-printing");
        } else if (in_area(h, "error", item, ".json") || in_area(h, "error", item, ".error")) {
                ret->state = LAB_PJOB_ABORTED;
                snprintf(ret->reasons, sizeof ret->reasons, "aborted-by-system");
                generic_reason(h, item, ret->message, sizeof ret->message);
        } else if (in_area(h, "done", item, ".json")) {
                ret->state = LAB_PJOB_COMPLETED;
                snprintf(ret->reasons, sizeof ret->reasons, "job-completed-successfully");
        } else if (in_area(h, "canceled", item, ".json")) {
                ret->state = LAB_PJOB_CANCELED;
                snprintf(ret->reasons, sizeof ret->reasons, "job-canceled-by-user");
        } else {
                return -ENOENT;
        }
        return 0;
}

/* Take the sidecar (the lock) into canceled/, then delete the print file. */
static int generic_cancel(hf_t *h, const char *item, lab_error_t *err)
{
        _cleanup_free_ char *from = hf_strf("%s/%s.json", h->folder, item);
        _cleanup_free_ char *to = hf_strf("%s/canceled/%s.json", h->folder, item);
        _cleanup_free_ char *jpg = hf_strf("%s/%s.jpg", h->folder, item);
        _cleanup_free_ char *tif = hf_strf("%s/%s.tif", h->folder, item);
        _cleanup_free_ char *canceled = hf_strf("%s/canceled", h->folder);
        int r;

        if (!from || !to || !jpg || !tif || !canceled)
                return hf_unwritable(h, err, -ENOMEM, "cancel", item);
        r = hf_mkdir(canceled);
        if (r < 0)
                return hf_unwritable(h, err, r, "create", canceled);
        if (rename(from, to) < 0) {
                if (errno == ENOENT)
                        return -EBUSY; /* the minilab took it first */
                return hf_unwritable(h, err, -errno, "withdraw", from);
        }
        (void)unlink(jpg);
        (void)unlink(tif);
        (void)lab_fsync_dir(h->folder);
        (void)lab_fsync_dir(canceled);
        return 0;
}

/* Sidecars in the inbox: items the minilab has not taken up. */
static int generic_waiting(hf_t *h, hf_waiting_t *ret)
{
        return hf_inbox_waiting(h, ".json", false, ret);
}

/* Replies land in the areas. */
static void generic_watch(hf_t *h)
{
        for (size_t i = 0; i < ELEMENTSOF(areas); i++)
                hf_watch(h, areas[i]);
}

const hf_format_t hf_format_generic = {
    .name = "generic",
    .submit = generic_submit,
    .item_status = generic_item_status,
    .cancel = generic_cancel,
    .waiting = generic_waiting,
    .loaded_media = hf_all_media,
    .watch = generic_watch,
};
