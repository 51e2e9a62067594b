/*
 * printer-hotfolder.c - the hot-folder printer driver: minilabs that take
 * work as files dropped into a folder and answer by moving or renaming them.
 *
 * Why: production minilabs (Noritsu, DNP, Fuji, ...) have no IPP; their
 * front-end software watches a folder. This file is the part every format
 * shares: the handle, the inotify watch the event loop polls, the item name
 * that carries the stable job name (so a job is found again after a restart
 * by looking at the folder alone), atomic publication (temporary name,
 * fsync, rename, fsync the directory: a minilab never sees half a file),
 * stall detection, the folder's health, and the folder's memory (.labagent/:
 * an identity whose age is the "boot", and a durable record of every item
 * published, so that an item the minilab took and whose result was deleted
 * is never taken for one never sent). How a submission is laid out and how
 * the minilab's replies read is the format's business (hotfolder-*.c,
 * interface in hotfolder-private.h; protocols in docs/hotfolders.md).
 *
 * It must never leave a partial item visible, never say a job is gone when
 * it merely cannot see the folder (an unmounted share), and never say a job
 * never got there when it published it: each would make the caller print it
 * twice.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "digest.h"
#include "hotfolder-private.h"
#include "io-util.h"
#include "macro.h"

/* What a reply can change in a watched directory. */
#define HF_WATCH_MASK                                                                              \
        (IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_CLOSE_WRITE | IN_DELETE_SELF |   \
         IN_MOVE_SELF | IN_ONLYDIR)

/* Reads per drain, so a flood of events cannot keep the caller busy forever. */
#define HF_DRAIN_MAX_READS 64

/* Below this many free bytes the folder does not take work. */
#define HF_MIN_FREE_BYTES (4u * 1024 * 1024)

/* Looks at the folder before a job counts as gone, and the pause between them. */
#define HF_LOOKUP_ATTEMPTS   3
#define HF_LOOKUP_PAUSE_USEC 5000

/* Copy buffer for print files. */
#define HF_COPY_BUF (64 * 1024)

/* The folder's memory in HF_STATE_DIR: file names, sizes and how often old records go. */
#define HF_ID_FILE          "folder-id"     /* "<32 hex> <CLOCK_REALTIME s made>\n" */
#define HF_ID_BYTES         16              /* random bytes of the identity */
#define HF_SENT_DIR         "sent"          /* sent/<YYYY-MM-DD>/<item>, empty files */
#define HF_PRUNED_FILE      "pruned-before" /* "<s>\n": older sends may have lost their record */
#define HF_DAY_SEC          86400
#define HF_PRUNE_EVERY_USEC (3600ull * 1000000u) /* per handle, from status() */
#define HF_PRUNE_MAX_DAYS   8                    /* day directories deleted per prune */
#define HF_STATE_TEXT_MAX   128                  /* longest identity or mark file read */

/* ---- pure helpers ---- */

const hf_format_t *hf_format_for(lab_hotfolder_format_t f)
{
        switch (f) {
        case LAB_HOTFOLDER_GENERIC:
                return &hf_format_generic;
        case LAB_HOTFOLDER_NORITSU:
                return &hf_format_noritsu;
        case LAB_HOTFOLDER_DNP:
                return &hf_format_dnp;
        }
        return NULL;
}

/* Whether c may stand for itself in an item name (position pos). */
static bool item_char_plain(char c, size_t pos)
{
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')
                return true;
        return pos > 0 && (c == '.' || c == '_');
}

int hf_item_encode(const char *job_name, char *buf, size_t size)
{
        static const char hex[] = "0123456789ABCDEF";
        size_t o = 0;

        if (!job_name || !job_name[0])
                return -EINVAL;
        for (size_t i = 0; job_name[i]; i++) {
                unsigned char c = (unsigned char)job_name[i];
                size_t need = item_char_plain((char)c, i) ? 1 : 3;

                if (o + need > HF_ITEM_MAX || o + need >= size)
                        return -ENAMETOOLONG;
                if (need == 1) {
                        buf[o++] = (char)c;
                } else {
                        buf[o++] = '%';
                        buf[o++] = hex[c >> 4];
                        buf[o++] = hex[c & 15];
                }
        }
        buf[o] = '\0';
        return 0;
}

/* Value of an uppercase hex digit, -1 otherwise. */
static int hex_value(char c)
{
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

int hf_item_decode(const char *item, char *buf, size_t size)
{
        char check[HF_ITEM_MAX + 1];
        size_t o = 0, len = strlen(item);

        if (len == 0 || len > HF_ITEM_MAX)
                return -EINVAL;
        for (size_t i = 0; i < len; i++) {
                char c = item[i];

                if (o + 1 >= size)
                        return -ENAMETOOLONG;
                if (c == '%') {
                        int hi = i + 2 < len ? hex_value(item[i + 1]) : -1;
                        int lo = hi >= 0 ? hex_value(item[i + 2]) : -1;
                        if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
                                return -EINVAL;
                        buf[o++] = (char)(hi * 16 + lo);
                        i += 2;
                } else if (item_char_plain(c, o)) {
                        buf[o++] = c;
                } else {
                        return -EINVAL;
                }
        }
        buf[o] = '\0';
        /* Only the canonical spelling is an item: "%41" for "A" is not. */
        if (hf_item_encode(buf, check, sizeof check) < 0 || strcmp(check, item) != 0)
                return -EINVAL;
        return 0;
}

/* The sizes minilabs print, PWG name to the short name their folders and order files use. */
static const hf_media_t media_table[] = {
    {"oe_photo-l_3.5x5in", NULL, "3.5x5"},
    {"na_index-4x6_4x6in", NULL, "4x6"},
    {"na_5x7_5x7in", NULL, "5x7"},
    {"custom_6x8_6x8in", "om_6x8_6x8in", "6x8"},
    {"custom_8x8_8x8in", "om_8x8_8x8in", "8x8"},
    {"na_govt-letter_8x10in", NULL, "8x10"},
    {"custom_8x12_8x12in", "om_8x12_8x12in", "8x12"},
    {"custom_4x12_4x12in", "om_4x12_4x12in", "4x12"},
};

const hf_media_t *hf_media_table(size_t *n)
{
        *n = ELEMENTSOF(media_table);
        return media_table;
}

const hf_media_t *hf_media_find(const char *pwg)
{
        for (size_t i = 0; pwg && i < ELEMENTSOF(media_table); i++)
                if (strcmp(media_table[i].pwg, pwg) == 0 ||
                    (media_table[i].alias && strcmp(media_table[i].alias, pwg) == 0))
                        return &media_table[i];
        return NULL;
}

const hf_media_t *hf_media_find_short(const char *short_name)
{
        for (size_t i = 0; short_name && i < ELEMENTSOF(media_table); i++)
                if (strcmp(media_table[i].short_name, short_name) == 0)
                        return &media_table[i];
        return NULL;
}

const char *hf_mime_ext(const char *mime)
{
        if (!mime)
                return NULL;
        if (strcmp(mime, "image/jpeg") == 0)
                return "jpg";
        if (strcmp(mime, "image/tiff") == 0)
                return "tif";
        return NULL;
}

void hf_all_media(hf_t *h, lab_printer_status_t *st)
{
        size_t n;
        const hf_media_t *m = hf_media_table(&n);

        for (size_t i = 0; i < n && st->n_media < LAB_PRINTER_MEDIA_MAX; i++)
                snprintf(st->media[st->n_media++].size, sizeof st->media[0].size, "%s", m[i].pwg);
}

void hf_reason_clean(const char *text, size_t len, char *buf, size_t size)
{
        size_t o = 0;
        bool space = false;

        if (size == 0)
                return;
        for (size_t i = 0; i < len && text[i]; i++) {
                unsigned char c = (unsigned char)text[i];

                if (c < 0x20 || c == 0x7f || c == ' ') {
                        space = o > 0;
                        continue;
                }
                if (space) {
                        if (o + 2 >= size) /* room for the space and a character after it */
                                break;
                        buf[o++] = ' ';
                        space = false;
                }
                if (o + 1 >= size)
                        break;
                buf[o++] = (char)c;
        }
        /* Do not end inside a UTF-8 sequence cut short by the buffer. */
        if (o > 0 && ((unsigned char)buf[o - 1] & 0x80)) {
                size_t start = o - 1, want;
                while (start > 0 && ((unsigned char)buf[start] & 0xC0) == 0x80)
                        start--;
                unsigned char lead = (unsigned char)buf[start];
                want = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
                if (o - start < want)
                        o = start;
        }
        buf[o] = '\0';
}

int hf_folder_id_parse(const char *text, size_t len, int64_t *ret_created)
{
        size_t i, start;
        int64_t v = 0;

        for (i = 0; i < 2 * HF_ID_BYTES; i++)
                if (i >= len ||
                    !((text[i] >= '0' && text[i] <= '9') || (text[i] >= 'a' && text[i] <= 'f')))
                        return -EINVAL;
        if (i >= len || text[i++] != ' ')
                return -EINVAL;
        for (start = i; i < len && text[i] >= '0' && text[i] <= '9'; i++) {
                if (i - start >= 18) /* far beyond any clock; keeps v from overflowing */
                        return -EINVAL;
                v = v * 10 + (text[i] - '0');
        }
        if (i == start || text[start] == '0' || i + 1 != len || text[i] != '\n')
                return -EINVAL;
        *ret_created = v;
        return 0;
}

int hf_sent_day_name(int64_t t, char *buf, size_t size)
{
        time_t tt = (time_t)t;
        struct tm tm;

        if (t < 0 || !gmtime_r(&tt, &tm) || tm.tm_year + 1900 > 9999 ||
            strftime(buf, size, "%Y-%m-%d", &tm) != 10)
                return -EINVAL;
        return 0;
}

int64_t hf_sent_day_parse(const char *name)
{
        struct tm tm = {0};
        char back[16];
        time_t t;

        if (strlen(name) != 10 || name[4] != '-' || name[7] != '-')
                return -1;
        for (size_t i = 0; i < 10; i++)
                if (i != 4 && i != 7 && (name[i] < '0' || name[i] > '9'))
                        return -1;
        tm.tm_year = atoi(name) - 1900;
        tm.tm_mon = atoi(name + 5) - 1;
        tm.tm_mday = atoi(name + 8);
        t = timegm(&tm);
        /* timegm() normalises "2025-02-30": only a name that formats back to itself is a day. */
        if (t < 0 || hf_sent_day_name(t, back, sizeof back) < 0 || strcmp(back, name) != 0)
                return -1;
        return (int64_t)t;
}

/* The first second of the oldest day whose sent records are kept at instant now. */
static int64_t sent_keep_start(int64_t now)
{
        return now > 0 ? (now / HF_DAY_SEC - HF_SENT_KEEP_DAYS) * HF_DAY_SEC : 0;
}

int64_t hf_sent_complete_since(int64_t boot, int64_t pruned_before, int64_t now)
{
        int64_t kept = sent_keep_start(now);
        int64_t since = boot;

        if (boot <= 0)
                return 0;
        if (kept > since)
                since = kept;
        if (pruned_before > since)
                since = pruned_before;
        return since;
}

/* ---- I/O helpers ---- */

char *hf_strf(const char *fmt, ...)
{
        va_list ap;
        char *s;
        int n;

        va_start(ap, fmt);
        n = vasprintf(&s, fmt, ap);
        va_end(ap);
        return n < 0 ? NULL : s;
}

int hf_mkdir(const char *dir)
{
        struct stat st;

        if (mkdir(dir, 0755) == 0)
                return 1;
        if (errno != EEXIST)
                return -errno;
        if (stat(dir, &st) < 0)
                return -errno;
        return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

bool hf_exists(const char *path, uint64_t *mtime_usec)
{
        struct stat st;

        if (lstat(path, &st) < 0)
                return false;
        if (mtime_usec)
                *mtime_usec =
                    (uint64_t)st.st_mtim.tv_sec * 1000000u + (uint64_t)st.st_mtim.tv_nsec / 1000u;
        return true;
}

int hf_unwritable(hf_t *h, lab_error_t *err, int r, const char *what, const char *path)
{
        return lab_error_set(err, r, "hotfolder_unwritable",
                             "printer %s: cannot %s %s: %s; nothing was queued", h->base.name, what,
                             path, strerror(r < 0 ? -r : r));
}

/* Copy everything from fd in (or src's data) to fd out, hashing it. */
static int copy_into(int in, hf_source_t *src, int out, bool *read_failed)
{
        _cleanup_(lab_sha256_freep) lab_sha256_t *sha = NULL;
        _cleanup_free_ char *buf = NULL;
        int r;

        *read_failed = false;
        src->bytes = 0;
        r = lab_sha256_new(&sha);
        if (r < 0)
                return r;
        if (in < 0) {
                r = lab_sha256_update(sha, src->data, src->size);
                if (r == 0)
                        r = lab_write_all(out, src->data, src->size);
                if (r < 0)
                        return r;
                src->bytes = src->size;
                return lab_sha256_final_hex(sha, src->sha256);
        }
        buf = malloc(HF_COPY_BUF);
        if (!buf)
                return -ENOMEM;
        for (;;) {
                ssize_t n = read(in, buf, HF_COPY_BUF);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        *read_failed = true;
                        return -errno;
                }
                if (n == 0)
                        break;
                r = lab_sha256_update(sha, buf, (size_t)n);
                if (r == 0)
                        r = lab_write_all(out, buf, (size_t)n);
                if (r < 0)
                        return r;
                src->bytes += (uint64_t)n;
        }
        return lab_sha256_final_hex(sha, src->sha256);
}

/*
 * Write src to a fresh temporary file in dir named after base; fsync and
 * close it. *ret_tmp gets its path. Removes it on failure.
 */
static int write_temp(hf_t *h, const char *dir, const char *base, hf_source_t *src, char **ret_tmp,
                      lab_error_t *err)
{
        _cleanup_free_ char *tmp = hf_strf("%s/" HF_TMP_PREFIX "%s-XXXXXX", dir, base);
        _cleanup_close_ int in = -1;
        int out, r;
        bool read_failed;

        if (!tmp)
                return lab_error_set(err, ENOMEM, "hotfolder_unwritable", "out of memory");
        if (src->path) {
                in = open(src->path, O_RDONLY | O_CLOEXEC);
                if (in < 0)
                        return lab_error_set(err, errno, "printer_file_error",
                                             "printer %s: cannot read print file %s: %s",
                                             h->base.name, src->path, strerror(errno));
        }
        out = mkostemp(tmp, O_CLOEXEC);
        if (out < 0)
                return hf_unwritable(h, err, -errno, "create a file in", dir);
        r = copy_into(in, src, out, &read_failed);
        if (r == 0 && fchmod(out, 0644) < 0)
                r = -errno;
        if (r == 0 && fsync(out) < 0)
                r = -errno;
        if (close(out) < 0 && r == 0 && errno != EINTR)
                r = -errno;
        if (r < 0) {
                (void)unlink(tmp);
                if (read_failed)
                        return lab_error_set(err, r, "printer_file_error",
                                             "printer %s: cannot read print file %s: %s",
                                             h->base.name, src->path, strerror(-r));
                return hf_unwritable(h, err, r, "write", tmp);
        }
        *ret_tmp = TAKE_PTR(tmp);
        return 0;
}

/* Whether link() failed because the file system has no hard links (copy instead). */
static bool link_unsupported(int e)
{
        return e == EPERM || e == EOPNOTSUPP || e == EXDEV || e == EMLINK || e == ENOSYS;
}

int hf_publish(hf_t *h, const char *dir, const char *const *names, size_t n, hf_source_t *src,
               lab_error_t *err)
{
        _cleanup_free_ char *tmp = NULL;
        size_t published = 0;
        int r;

        if (n == 0)
                return -EINVAL;
        r = write_temp(h, dir, names[0], src, &tmp, err);
        if (r < 0)
                return r;
        for (; published < n; published++) {
                _cleanup_free_ char *dst = hf_strf("%s/%s", dir, names[published]);

                if (!dst) {
                        r = -ENOMEM;
                } else if (published == n - 1) {
                        r = rename(tmp, dst) < 0 ? -errno : 0;
                } else if (link(tmp, dst) < 0) {
                        r = -errno;
                        if (link_unsupported(-r)) {
                                /* No hard links here: a full copy, published by rename. */
                                _cleanup_free_ char *copy = NULL;
                                hf_source_t again = {.path = tmp};

                                r = write_temp(h, dir, names[published], &again, &copy, err);
                                if (r < 0)
                                        goto fail_quiet;
                                r = rename(copy, dst) < 0 ? -errno : 0;
                                if (r < 0)
                                        (void)unlink(copy);
                        }
                }
                if (r < 0) {
                        hf_unwritable(h, err, r, "publish", dst ? dst : dir);
                        goto fail_quiet;
                }
        }
        r = lab_fsync_dir(dir);
        if (r < 0) {
                hf_unwritable(h, err, r, "sync the directory", dir);
                goto fail_quiet;
        }
        return 0;

fail_quiet:
        /* Leave nothing visible: the temporary and every name already published. */
        if (published < n)
                (void)unlink(tmp);
        for (size_t i = 0; i < published && i < n; i++) {
                _cleanup_free_ char *dst = hf_strf("%s/%s", dir, names[i]);
                if (dst)
                        (void)unlink(dst);
        }
        (void)lab_fsync_dir(dir);
        return r;
}

int hf_read_reason(const char *path, char *buf, size_t size)
{
        char text[1024];
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        ssize_t n;

        if (fd < 0)
                return -errno;
        do
                n = read(fd, text, sizeof text);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return -errno;
        hf_reason_clean(text, (size_t)n, buf, size);
        return 0;
}

/* Remove path and what is under it, at most depth levels deep. */
static int rm_rf_depth(const char *path, unsigned depth)
{
        struct stat st;
        DIR *d;
        struct dirent *de;
        int r = 0;

        if (lstat(path, &st) < 0)
                return errno == ENOENT ? 0 : -errno;
        if (!S_ISDIR(st.st_mode))
                return unlink(path) < 0 && errno != ENOENT ? -errno : 0;
        if (depth == 0)
                return -ELOOP;
        d = opendir(path);
        if (!d)
                return -errno;
        while ((de = readdir(d))) {
                _cleanup_free_ char *child = NULL;
                int q;

                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                child = hf_strf("%s/%s", path, de->d_name);
                q = child ? rm_rf_depth(child, depth - 1) : -ENOMEM;
                if (q < 0 && r == 0)
                        r = q;
        }
        closedir(d);
        if (rmdir(path) < 0 && errno != ENOENT && r == 0)
                r = -errno;
        return r;
}

int hf_rm_rf(const char *path)
{
        return rm_rf_depth(path, 4);
}

void hf_watch(hf_t *h, const char *rel)
{
        _cleanup_free_ char *path = NULL;

        if (h->inotify_fd < 0)
                return;
        path = rel[0] ? hf_strf("%s/%s", h->folder, rel) : strdup(h->folder);
        /* A directory not there yet is watched once a later call finds it. */
        if (path)
                (void)inotify_add_watch(h->inotify_fd, path, HF_WATCH_MASK);
}

void hf_waiting_add(hf_waiting_t *w, const char *item, uint64_t mtime_usec)
{
        if (w->n++ == 0 || mtime_usec < w->oldest_usec) {
                w->oldest_usec = mtime_usec;
                snprintf(w->oldest_item, sizeof w->oldest_item, "%s", item);
        }
}

int hf_inbox_waiting(hf_t *h, const char *suffix, bool dirs_only, hf_waiting_t *ret)
{
        size_t sl = strlen(suffix);
        DIR *d = opendir(h->folder);
        struct dirent *de;
        char name[HF_ITEM_MAX * 3 + 1];

        if (!d)
                return -errno;
        while ((de = readdir(d))) {
                char item[HF_ITEM_MAX + 1];
                size_t len = strlen(de->d_name);
                uint64_t mtime;
                struct stat st;

                if (len <= sl || len - sl > HF_ITEM_MAX || strcmp(de->d_name + len - sl, suffix))
                        continue;
                memcpy(item, de->d_name, len - sl);
                item[len - sl] = '\0';
                /* Names that are no item: ours (HF_STATE_DIR, temporaries), the minilab's. */
                if (hf_item_decode(item, name, sizeof name) < 0)
                        continue;
                _cleanup_free_ char *p = hf_strf("%s/%s", h->folder, de->d_name);
                if (!p || (dirs_only && (lstat(p, &st) < 0 || !S_ISDIR(st.st_mode))) ||
                    !hf_exists(p, &mtime))
                        continue;
                hf_waiting_add(ret, item, mtime);
        }
        closedir(d);
        return 0;
}

/* (Re)add the watches on the folder and the format's reply areas. */
static void watch_all(hf_t *h)
{
        hf_watch(h, "");
        h->fmt->watch(h);
}

/* ---- the driver ---- */

/*
 * Is the folder there and writable? 0, or a negative errno with err filled
 * (hotfolder_unwritable); *missing tells a missing folder from a read-only one.
 */
static int folder_check(hf_t *h, bool *missing, lab_error_t *err)
{
        struct stat st;
        struct statvfs vfs;

        *missing = false;
        if (stat(h->folder, &st) < 0) {
                *missing = true;
                return lab_error_set(err, EIO, "hotfolder_unwritable",
                                     "printer %s: hot folder %s is not there (%s); is the share "
                                     "mounted?",
                                     h->base.name, h->folder, strerror(errno));
        }
        if (!S_ISDIR(st.st_mode)) {
                *missing = true;
                return lab_error_set(err, ENOTDIR, "hotfolder_unwritable",
                                     "printer %s: hot folder %s is not a directory", h->base.name,
                                     h->folder);
        }
        if (access(h->folder, W_OK | X_OK) < 0)
                return lab_error_set(err, errno, "hotfolder_unwritable",
                                     "printer %s: hot folder %s is not writable: %s", h->base.name,
                                     h->folder, strerror(errno));
        if (statvfs(h->folder, &vfs) == 0 &&
            (uint64_t)vfs.f_bavail * vfs.f_frsize < HF_MIN_FREE_BYTES)
                return lab_error_set(err, ENOSPC, "hotfolder_unwritable",
                                     "printer %s: the file system of hot folder %s is full",
                                     h->base.name, h->folder);
        return 0;
}

/* Check a handle is an item name; printer_job_unknown otherwise. */
static int item_check(hf_t *h, const char *handle, lab_error_t *err)
{
        char name[LAB_PRINTER_JOB_NAME_MAX * 3 + 1];

        if (!handle || hf_item_decode(handle, name, sizeof name) < 0)
                return lab_error_set(err, EINVAL, "printer_job_unknown",
                                     "printer %s: '%s' is not a hot-folder item name", h->base.name,
                                     handle ? handle : "(null)");
        return 0;
}

/*
 * Look for an item in its places: 0, -ENOENT (nowhere), -errno. "Gone" makes
 * the caller submit again, so it must be sure: a directory listing racing a
 * rename may miss the file, so look again before saying so.
 */
static int item_lookup(hf_t *h, const char *item, lab_pjob_status_t *ret)
{
        int r = -ENOENT;

        for (int attempt = 0; attempt < HF_LOOKUP_ATTEMPTS; attempt++) {
                if (attempt > 0)
                        (void)usleep(HF_LOOKUP_PAUSE_USEC);
                *ret = (lab_pjob_status_t){.state = LAB_PJOB_UNKNOWN, .impressions_completed = -1};
                r = h->fmt->item_status(h, item, ret);
                if (r != -ENOENT)
                        break;
        }
        return r;
}

/* Read an item's state; a missing folder is never "job unknown". */
static int item_status(hf_t *h, const char *item, lab_pjob_status_t *ret, lab_error_t *err)
{
        bool missing;
        int r;

        r = folder_check(h, &missing, err);
        if (r < 0 && missing)
                return r;
        lab_error_clear(err);
        watch_all(h);
        r = item_lookup(h, item, ret);
        if (r == -ENOENT)
                return lab_error_set(err, ENOENT, "printer_job_unknown",
                                     "printer %s: item %s is not in hot folder %s (nor in its "
                                     "done or error areas)",
                                     h->base.name, item, h->folder);
        if (r < 0)
                return lab_error_set(err, r, "hotfolder_unwritable",
                                     "printer %s: cannot read hot folder %s: %s", h->base.name,
                                     h->folder, strerror(-r));
        return 0;
}

/* ---- the folder's memory (HF_STATE_DIR) ---- */

/*
 * A hot folder has no up-time and no job list of its own: the minilab may
 * take an item and its result may later be deleted, and the folder may be
 * emptied or replaced. So the driver keeps, in the folder itself, what a
 * printer's memory would tell (lab_printer_memory_t): an identity made once
 * (its time is the "boot") and a record of every item it published, made
 * durable before the item becomes visible. An item in none of its places
 * with a record was received and its fate is lost (UNKNOWN: never sent
 * again); without a record it never got there, provided the records reach
 * back past the send (complete_since). Anything that breaks the records'
 * continuity (the directory gone, the identity unreadable, sent/ gone) gives
 * a new identity, i.e. a later boot: copies sent before are then not sent
 * again either.
 */

/* A path under the folder's HF_STATE_DIR ("" for the directory itself); NULL on out of memory. */
static char *state_path(hf_t *h, const char *rel)
{
        return rel[0] ? hf_strf("%s/" HF_STATE_DIR "/%s", h->folder, rel)
                      : hf_strf("%s/" HF_STATE_DIR, h->folder);
}

/* Read a small file whole into buf. Its length, -EFBIG when it fills buf, or a negative errno. */
static ssize_t read_small(const char *path, char *buf, size_t size)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        size_t n = 0;

        if (fd < 0)
                return -errno;
        while (n < size) {
                ssize_t k = read(fd, buf + n, size - n);

                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return -errno;
                if (k == 0)
                        return (ssize_t)n;
                n += (size_t)k;
        }
        return -EFBIG;
}

/*
 * Write text to dir/name atomically: a temporary file (fsynced) hard-linked
 * to name, or renamed over it when replace; then dir fsynced. -EEXIST (err
 * untouched) when name is there and replace is false. Where the file system
 * has no hard links the file is created with O_EXCL and written in place: a
 * crash may then leave it short, which reads as unparsable (a new identity).
 */
static int state_write(hf_t *h, const char *dir, const char *name, const char *text, bool replace,
                       lab_error_t *err)
{
        _cleanup_free_ char *tmp = NULL, *dst = hf_strf("%s/%s", dir, name);
        hf_source_t src = {.data = text, .size = strlen(text)};
        int r;

        if (!dst)
                return hf_unwritable(h, err, -ENOMEM, "write", name);
        r = write_temp(h, dir, name, &src, &tmp, err);
        if (r < 0)
                return r;
        if (replace) {
                r = rename(tmp, dst) < 0 ? -errno : 0;
        } else if (link(tmp, dst) < 0) {
                r = -errno;
                if (link_unsupported(-r)) {
                        _cleanup_close_ int fd =
                            open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);

                        r = fd < 0 ? -errno : lab_write_all(fd, text, strlen(text));
                        if (r == 0 && fsync(fd) < 0)
                                r = -errno;
                        if (r < 0 && fd >= 0)
                                (void)unlink(dst);
                }
        }
        if (r < 0 || !replace)
                (void)unlink(tmp);
        if (r == -EEXIST && !replace)
                return r;
        if (r < 0)
                return hf_unwritable(h, err, r, "write", dst);
        r = lab_fsync_dir(dir);
        if (r < 0)
                return hf_unwritable(h, err, r, "sync the directory", dir);
        return 0;
}

/* Write a new identity (16 random bytes, now) to dir/folder-id; *ret_created gets its time. */
static int identity_write(hf_t *h, const char *dir, bool replace, int64_t *ret_created,
                          lab_error_t *err)
{
        uint8_t id[HF_ID_BYTES];
        char text[2 * HF_ID_BYTES + 32];
        int64_t now = (int64_t)time(NULL);
        size_t o = 0;
        int r;

        arc4random_buf(id, sizeof id);
        for (size_t i = 0; i < sizeof id; i++)
                o += (size_t)snprintf(text + o, sizeof text - o, "%02x", id[i]);
        snprintf(text + o, sizeof text - o, " %lld\n", (long long)now);
        r = state_write(h, dir, HF_ID_FILE, text, replace, err);
        if (r == 0)
                *ret_created = now;
        return r;
}

/* Read folder-id: 0 with *ret_created, -ENOENT (missing), -EINVAL (unparsable), -errno. */
static int identity_read(const char *path, int64_t *ret_created)
{
        char text[HF_STATE_TEXT_MAX];
        ssize_t n = read_small(path, text, sizeof text);

        if (n == -EFBIG)
                return -EINVAL;
        if (n < 0)
                return (int)n;
        return hf_folder_id_parse(text, (size_t)n, ret_created);
}

/*
 * The folder's identity: the time its folder-id was made (the boot). With
 * create, HF_STATE_DIR and a new identity are made where the directory or the
 * file is missing, the file is unparsable (continuity cannot be shown), or
 * sent/ is gone (the records no longer reach back to the identity): the new
 * file goes in first, sent/ after it, so a crash in between only makes yet
 * another one. A valid file whose records are there is never touched. Without
 * create (a folder we cannot write) *ret_boot is 0 unless all is in place.
 * 0, or a negative errno with err filled (hotfolder_unwritable).
 */
static int identity_get(hf_t *h, bool create, int64_t *ret_boot, lab_error_t *err)
{
        _cleanup_free_ char *dir = state_path(h, ""), *idp = state_path(h, HF_ID_FILE),
                            *sent = state_path(h, HF_SENT_DIR);
        int64_t boot = 0;
        struct stat st;
        bool have_sent;
        int r;

        *ret_boot = 0;
        if (!dir || !idp || !sent)
                return hf_unwritable(h, err, -ENOMEM, "read", HF_STATE_DIR);
        if (create) {
                r = hf_mkdir(dir);
                if (r < 0)
                        return hf_unwritable(h, err, r, "create", dir);
                if (r > 0) {
                        r = lab_fsync_dir(h->folder);
                        if (r < 0)
                                return hf_unwritable(h, err, r, "sync the directory", h->folder);
                }
        }
        if (stat(sent, &st) == 0) {
                if (!S_ISDIR(st.st_mode))
                        return hf_unwritable(h, err, -ENOTDIR, "read", sent);
                have_sent = true;
        } else if (errno == ENOENT) {
                have_sent = false;
        } else {
                return hf_unwritable(h, err, -errno, "read", sent);
        }
        r = identity_read(idp, &boot);
        if (r < 0 && r != -ENOENT && r != -EINVAL)
                return hf_unwritable(h, err, r, "read", idp);
        if (r == 0 && have_sent) {
                *ret_boot = boot;
                return 0;
        }
        if (!create)
                return 0;
        r = identity_write(h, dir, r != -ENOENT, &boot, err);
        if (r == -EEXIST) {
                /* Made by someone else just now: theirs stands. */
                r = identity_read(idp, &boot);
                if (r < 0)
                        return hf_unwritable(h, err, r == -EINVAL ? -EBADMSG : r, "read", idp);
        }
        if (r < 0)
                return r;
        if (!have_sent) {
                r = hf_mkdir(sent);
                if (r >= 0)
                        r = lab_fsync_dir(dir);
                if (r < 0)
                        return hf_unwritable(h, err, r, "create", sent);
        }
        *ret_boot = boot;
        return 0;
}

/*
 * The last prune's mark: 0 when never pruned; a file that cannot be read or
 * parsed is taken as "now" (records are complete only from now on).
 */
static int64_t pruned_read(hf_t *h, bool *ret_valid)
{
        _cleanup_free_ char *path = state_path(h, HF_PRUNED_FILE);
        char text[HF_STATE_TEXT_MAX];
        ssize_t n = path ? read_small(path, text, sizeof text) : -ENOMEM;
        int64_t v = 0;
        size_t i = 0;

        *ret_valid = true;
        if (n == -ENOENT)
                return 0;
        for (; n > 0 && i < (size_t)n && i < 18 && text[i] >= '0' && text[i] <= '9'; i++)
                v = v * 10 + (text[i] - '0');
        if (n > 0 && i > 0 && text[0] != '0' && i + 1 == (size_t)n && text[i] == '\n')
                return v;
        *ret_valid = false;
        return (int64_t)time(NULL);
}

/*
 * What the folder remembers. With create, missing pieces are made (see
 * identity_get()); zeros when the folder cannot tell. 0 or a negative errno
 * with err filled (*ret zeroed).
 */
static int memory_get(hf_t *h, bool create, lab_printer_memory_t *ret, lab_error_t *err)
{
        int64_t boot;
        bool valid;
        int r;

        *ret = (lab_printer_memory_t){0};
        r = identity_get(h, create, &boot, err);
        if (r < 0 || boot <= 0)
                return r;
        ret->boot = boot;
        ret->complete_since = hf_sent_complete_since(boot, pruned_read(h, &valid), time(NULL));
        return 0;
}

/*
 * Record durably that item is about to be published: the empty file
 * sent/<today, UTC>/<item>, then its directory fsynced. *ret_path gets the
 * record (to take it back if nothing was published). 0 or a negative errno
 * with err filled (hotfolder_unwritable): then nothing may be published.
 */
static int sent_record_add(hf_t *h, const char *item, char **ret_path, lab_error_t *err)
{
        _cleanup_free_ char *sent = state_path(h, HF_SENT_DIR), *daydir = NULL, *rec = NULL;
        _cleanup_close_ int fd = -1;
        char day[16];
        int r;

        if (hf_sent_day_name((int64_t)time(NULL), day, sizeof day) < 0)
                return hf_unwritable(h, err, -EINVAL, "date the record of", item);
        if (sent)
                daydir = hf_strf("%s/%s", sent, day);
        if (daydir)
                rec = hf_strf("%s/%s", daydir, item);
        if (!rec)
                return hf_unwritable(h, err, -ENOMEM, "record", item);
        r = hf_mkdir(daydir);
        if (r < 0)
                return hf_unwritable(h, err, r, "create", daydir);
        if (r > 0) {
                r = lab_fsync_dir(sent);
                if (r < 0)
                        return hf_unwritable(h, err, r, "sync the directory", sent);
        }
        fd = open(rec, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd < 0)
                return hf_unwritable(h, err, -errno, "create", rec);
        r = fsync(fd) < 0 ? -errno : 0;
        if (r == 0)
                r = lab_fsync_dir(daydir);
        if (r < 0) {
                (void)unlink(rec);
                return hf_unwritable(h, err, r, "sync", rec);
        }
        *ret_path = TAKE_PTR(rec);
        return 0;
}

/*
 * Take back the record of a submission that failed, unless the item is
 * somewhere in the folder after all (then the record must stay: it was
 * received). A record that cannot be removed stays too: that is the safe way.
 */
static void sent_record_drop(hf_t *h, char *rec, const char *item)
{
        lab_pjob_status_t st;
        char *slash;

        if (item_lookup(h, item, &st) != -ENOENT)
                return;
        if (unlink(rec) < 0)
                return;
        slash = strrchr(rec, '/');
        if (slash) {
                *slash = '\0';
                (void)lab_fsync_dir(rec);
        }
}

/*
 * Whether a sent record of item exists in any day directory: 1 (day gets
 * that directory's name), 0, or a negative errno (a listing or look that
 * failed: never "no record" then).
 */
static int sent_record_find(hf_t *h, const char *item, char *day, size_t size)
{
        _cleanup_free_ char *sent = state_path(h, HF_SENT_DIR);
        struct dirent *de;
        DIR *d;
        int r = 0;

        if (!sent)
                return -ENOMEM;
        d = opendir(sent);
        if (!d)
                return errno == ENOENT ? 0 : -errno;
        for (;;) {
                _cleanup_free_ char *rec = NULL;
                struct stat st;

                errno = 0;
                de = readdir(d);
                if (!de) {
                        if (errno != 0)
                                r = -errno;
                        break;
                }
                if (de->d_name[0] == '.')
                        continue;
                rec = hf_strf("%s/%s/%s", sent, de->d_name, item);
                if (!rec) {
                        r = -ENOMEM;
                        break;
                }
                if (lstat(rec, &st) == 0) {
                        size_t len = strnlen(de->d_name, size);

                        /* Day names are 10 bytes: a longer one is cut, never overrun. */
                        if (size > 0) {
                                len = len < size ? len : size - 1;
                                memcpy(day, de->d_name, len);
                                day[len] = '\0';
                        }
                        r = 1;
                        break;
                }
                if (errno != ENOENT && errno != ENOTDIR) {
                        r = -errno;
                        break;
                }
        }
        closedir(d);
        return r;
}

/*
 * Delete the day directories of sent records older than HF_SENT_KEEP_DAYS
 * days before today (at most HF_PRUNE_MAX_DAYS of them). The mark goes first
 * and only ever forward, so a clock set back later cannot make the records
 * look complete where they are not. Returns 1 when more are left to delete.
 */
static int sent_prune(hf_t *h)
{
        _cleanup_free_ char *sent = state_path(h, HF_SENT_DIR), *dir = state_path(h, "");
        char names[HF_PRUNE_MAX_DAYS][16], text[32];
        int64_t cutoff = sent_keep_start((int64_t)time(NULL)), mark;
        size_t n = 0;
        bool more = false, valid;
        struct dirent *de;
        lab_error_t e = {0};
        DIR *d;

        if (!sent || !dir)
                return 0;
        d = opendir(sent);
        if (!d)
                return 0;
        while ((de = readdir(d))) {
                int64_t day = hf_sent_day_parse(de->d_name);

                if (day < 0 || day >= cutoff)
                        continue;
                if (n == HF_PRUNE_MAX_DAYS) {
                        more = true;
                        break;
                }
                memcpy(names[n++], de->d_name, 11); /* a day name: 10 bytes and NUL */
        }
        closedir(d);
        mark = pruned_read(h, &valid);
        if (n == 0 && valid)
                return 0;
        if (cutoff > mark || !valid) {
                snprintf(text, sizeof text, "%lld\n", (long long)(cutoff > mark ? cutoff : mark));
                if (state_write(h, dir, HF_PRUNED_FILE, text, true, &e) < 0)
                        return 0; /* no mark, no deletion; next hour again */
        }
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *path = hf_strf("%s/%s", sent, names[i]);
                if (path)
                        (void)hf_rm_rf(path);
        }
        (void)lab_fsync_dir(sent);
        return more;
}

/* CLOCK_MONOTONIC in usec (for how often to prune). */
static uint64_t now_monotonic_usec(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Prune the sent records at most once per HF_PRUNE_EVERY_USEC (sooner while some are left). */
static void sent_prune_maybe(hf_t *h)
{
        uint64_t now = now_monotonic_usec();

        if (h->pruned_usec != 0 && now - h->pruned_usec < HF_PRUNE_EVERY_USEC)
                return;
        h->pruned_usec = sent_prune(h) > 0 ? 0 : now;
}

/* ---- the driver calls ---- */

/* Open a hot folder: check the config, set up inotify; does not need the folder to exist. */
static int hotfolder_open(const lab_config_printer_t *cfg, lab_printer_t **ret, lab_error_t *err)
{
        const hf_format_t *fmt = hf_format_for(cfg->format);
        struct stat st;
        hf_t *h;
        size_t len;
        int r;

        if (!cfg->folder || cfg->folder[0] != '/')
                return lab_error_set(err, EINVAL, "printer_config",
                                     "printer %s: a hot folder needs an absolute folder",
                                     cfg->name);
        if (!fmt)
                return lab_error_set(err, EINVAL, "printer_config",
                                     "printer %s: unknown hot-folder format", cfg->name);
        h = calloc(1, sizeof *h);
        if (!h)
                return lab_error_set(err, ENOMEM, "printer_config", "out of memory");
        h->inotify_fd = -1;
        r = lab_printer_init(&h->base, &lab_printer_hotfolder_ops, cfg);
        h->folder = strdup(cfg->folder);
        if (r < 0 || !h->folder) {
                lab_printer_done(&h->base);
                free(h->folder);
                free(h);
                return lab_error_set(err, ENOMEM, "printer_config", "out of memory");
        }
        len = strlen(h->folder);
        while (len > 1 && h->folder[len - 1] == '/')
                h->folder[--len] = '\0';
        h->fmt = fmt;
        /* The folder's identity from the start where the folder is there (best effort). */
        if (stat(h->folder, &st) == 0 && S_ISDIR(st.st_mode)) {
                lab_error_t e = {0};
                int64_t boot;
                (void)identity_get(h, true, &boot, &e);
        }
        /* Without inotify (no instances left) the driver still works: it is polled. */
        h->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        watch_all(h);
        *ret = &h->base;
        return 0;
}

/* Close the handle; what was submitted stays in the folder. */
static void hotfolder_close(lab_printer_t *p)
{
        hf_t *h = (hf_t *)p;

        if (h->inotify_fd >= 0)
                close(h->inotify_fd);
        free(h->folder);
        lab_printer_done(&h->base);
        free(h);
}

/* Duplicate the n strings of src into a fresh array. */
static int strv_dup(char ***ret, size_t *ret_n, const char *const *src, size_t n)
{
        char **v = calloc(n ? n : 1, sizeof *v);

        if (!v)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                v[i] = strdup(src[i]);
                if (!v[i]) {
                        while (i > 0)
                                free(v[--i]);
                        free(v);
                        return -ENOMEM;
                }
        }
        *ret = v;
        *ret_n = n;
        return 0;
}

/* The media sizes of the table, the photo media types, JPEG and TIFF at 300 dpi. */
static int hotfolder_capabilities(lab_printer_t *p, lab_printer_caps_t *ret, lab_error_t *err)
{
        static const char *const types[] = {
            "photographic",       "photographic-glossy", "photographic-high-gloss",
            "photographic-matte", "photographic-satin",  "photographic-semi-gloss",
        };
        static const char *const formats[] = {"image/jpeg", "image/tiff"};
        hf_t *h = (hf_t *)p;
        const char *media[ELEMENTSOF(media_table)];
        int r;

        for (size_t i = 0; i < ELEMENTSOF(media_table); i++)
                media[i] = media_table[i].pwg;
        r = strv_dup(&ret->media, &ret->n_media, media, ELEMENTSOF(media));
        if (r == 0)
                r = strv_dup(&ret->media_types, &ret->n_media_types, types, ELEMENTSOF(types));
        if (r == 0)
                r = strv_dup(&ret->formats, &ret->n_formats, formats, ELEMENTSOF(formats));
        if (r == 0) {
                ret->resolutions = calloc(1, sizeof *ret->resolutions);
                r = ret->resolutions ? 0 : -ENOMEM;
        }
        if (r == 0) {
                ret->resolutions[0] = 300;
                ret->n_resolutions = 1;
                ret->color = true;
                ret->make_model = hf_strf("labagent hot folder (%s)", h->fmt->name);
                r = ret->make_model ? 0 : -ENOMEM;
        }
        if (r < 0) {
                lab_printer_caps_done(ret);
                return lab_error_set(err, r, "printer_config", "out of memory");
        }
        return 0;
}

/* Check the request, then let the format lay it out; the handle is the item name. */
static int hotfolder_submit(lab_printer_t *p, const lab_print_request_t *req, char **ret_handle,
                            lab_error_t *err)
{
        hf_t *h = (hf_t *)p;
        char item[HF_ITEM_MAX + 1];
        _cleanup_free_ char *rec = NULL;
        lab_pjob_status_t st;
        struct stat sb;
        int64_t boot;
        bool missing;
        int r;

        r = hf_item_encode(req->job_name, item, sizeof item);
        if (r == -ENAMETOOLONG)
                return lab_error_set(err, r, "printer_refused",
                                     "printer %s: job name too long for a hot-folder item: '%s' "
                                     "is over %d bytes once encoded",
                                     p->name, req->job_name, HF_ITEM_MAX);
        if (r < 0)
                return lab_error_set(err, r, "printer_refused", "printer %s: empty job name",
                                     p->name);
        if (!hf_mime_ext(req->format))
                return lab_error_set(err, EINVAL, "printer_refused",
                                     "printer %s: hot folders take image/jpeg or image/tiff, not "
                                     "%s",
                                     p->name, req->format);
        if (stat(req->file, &sb) < 0)
                return lab_error_set(err, errno, "printer_file_error",
                                     "printer %s: print file %s cannot be read: %s", p->name,
                                     req->file, strerror(errno));
        if (!S_ISREG(sb.st_mode))
                return lab_error_set(err, EINVAL, "printer_file_error",
                                     "printer %s: print file %s is not a regular file", p->name,
                                     req->file);
        r = folder_check(h, &missing, err);
        if (r < 0)
                return r;
        watch_all(h);
        st = (lab_pjob_status_t){.impressions_completed = -1};
        r = h->fmt->item_status(h, item, &st);
        if (r == 0)
                return lab_error_set(err, EEXIST, "printer_refused",
                                     "printer %s: job %s is already in the hot folder (%s); use "
                                     "find_job",
                                     p->name, req->job_name, lab_pjob_state_to_string(st.state));
        if (r != -ENOENT)
                return hf_unwritable(h, err, r, "read", h->folder);
        /* The record of the send is durable before anything of the item can be seen. */
        r = identity_get(h, true, &boot, err);
        if (r == 0)
                r = sent_record_add(h, item, &rec, err);
        if (r < 0)
                return r;
        r = h->fmt->submit(h, req, item, err);
        if (r < 0) {
                sent_record_drop(h, rec, item);
                return r;
        }
        watch_all(h);
        *ret_handle = strdup(item);
        if (!*ret_handle)
                return lab_error_set(err, ENOMEM, "printer_refused", "out of memory");
        return 0;
}

/* Where an item stands, read from the folder. */
static int hotfolder_job_status(lab_printer_t *p, const char *handle, lab_pjob_status_t *ret,
                                lab_error_t *err)
{
        hf_t *h = (hf_t *)p;
        int r = item_check(h, handle, err);

        return r < 0 ? r : item_status(h, handle, ret, err);
}

/* Withdraw an item the minilab has not taken up yet. */
static int hotfolder_cancel(lab_printer_t *p, const char *handle, lab_error_t *err)
{
        hf_t *h = (hf_t *)p;
        lab_pjob_status_t st;
        int r = item_check(h, handle, err);

        if (r < 0)
                return r;
        r = item_status(h, handle, &st, err);
        if (r < 0)
                return r;
        switch (st.state) {
        case LAB_PJOB_PENDING:
                break;
        case LAB_PJOB_COMPLETED:
        case LAB_PJOB_ABORTED:
        case LAB_PJOB_CANCELED:
                return 0;
        default:
                return lab_error_set(err, EBUSY, "printer_refused",
                                     "printer %s: the minilab has already taken up %s; cancel it "
                                     "at the minilab",
                                     p->name, handle);
        }
        r = h->fmt->cancel(h, handle, err);
        if (r == -EBUSY && !lab_error_isset(err))
                return lab_error_set(err, EBUSY, "printer_refused",
                                     "printer %s: the minilab has already taken up %s; cancel it "
                                     "at the minilab",
                                     p->name, handle);
        return r;
}

/* snprintf that may cut the text short on purpose (status messages are bounded). */
_printf_(3, 4) static void message_set(char *buf, size_t size, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(buf, size, fmt, ap);
        va_end(ap);
}

/* Usec since the epoch, CLOCK_REALTIME (file times are wall-clock times). */
static uint64_t now_realtime_usec(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* The folder's health, the sizes it takes, and whether the minilab is keeping up. */
static int hotfolder_status(lab_printer_t *p, lab_printer_status_t *ret, lab_error_t *err)
{
        hf_t *h = (hf_t *)p;
        hf_waiting_t w = {0};
        lab_error_t e = {0};
        bool missing;
        int r;

        watch_all(h);
        r = folder_check(h, &missing, &e);
        if (r < 0) {
                /* Not an error of the call: the status says why the folder takes no work. */
                ret->state = missing ? LAB_PRINTER_UNREACHABLE : LAB_PRINTER_STOPPED;
                ret->accepting = false;
                message_set(ret->message, sizeof ret->message, "%s: %s", e.keyword, e.message);
                if (err)
                        *err = e;
                /* A folder we cannot write may still tell when its memory began. */
                if (!missing && identity_get(h, false, &ret->boot, &e) < 0)
                        ret->boot = 0;
                return 0;
        }
        /* No identity, no records of what is sent: then it takes no work (submit would fail). */
        r = identity_get(h, true, &ret->boot, &e);
        if (r < 0) {
                ret->state = LAB_PRINTER_STOPPED;
                ret->accepting = false;
                message_set(ret->message, sizeof ret->message, "%s: %s", e.keyword, e.message);
                if (err)
                        *err = e;
                return 0;
        }
        sent_prune_maybe(h);
        ret->state = LAB_PRINTER_IDLE;
        ret->accepting = true;
        h->fmt->loaded_media(h, ret);
        r = h->fmt->waiting(h, &w);
        if (r < 0) {
                ret->state = LAB_PRINTER_STOPPED;
                ret->accepting = false;
                hf_unwritable(h, &e, r, "read", h->folder);
                message_set(ret->message, sizeof ret->message, "%s: %s", e.keyword, e.message);
                if (err)
                        *err = e;
                return 0;
        }
        if (w.n == 0)
                return 0;
        ret->state = LAB_PRINTER_PROCESSING;
        uint64_t now = now_realtime_usec();
        uint64_t age = now > w.oldest_usec ? now - w.oldest_usec : 0;
        if (p->stall_after > 0 && age >= p->stall_after) {
                lab_printer_reason_t *reason = &ret->reasons[ret->n_reasons++];
                snprintf(reason->keyword, sizeof reason->keyword, "stalled");
                reason->severity = LAB_SEVERITY_ERROR;
                message_set(ret->message, sizeof ret->message,
                            "stalled: the minilab has not taken up %s for %llu s (stall_after %llu "
                            "s); %zu item(s) waiting",
                            w.oldest_item, (unsigned long long)(age / 1000000u),
                            (unsigned long long)(p->stall_after / 1000000u), w.n);
        } else {
                message_set(ret->message, sizeof ret->message,
                            "%zu item(s) waiting for the minilab", w.n);
        }
        return 0;
}

/* What the folder remembers, made where missing if the folder can be written; zeros if unknown. */
static void memory_fill(hf_t *h, lab_printer_memory_t *ret)
{
        lab_error_t e = {0};

        if (memory_get(h, true, ret, &e) < 0)
                (void)memory_get(h, false, ret, &e);
}

/*
 * Find a job by its stable name: its item name is the encoded job name. An
 * item in none of its places with a record of its send was received and its
 * result is lost: 0 with state UNKNOWN (the caller never sends it again).
 * Without a record, printer_job_unknown; the memory says how far back the
 * records reach. A folder that is not there is never "unknown".
 */
static int hotfolder_find_job(lab_printer_t *p, const char *job_name, char **ret_handle,
                              lab_pjob_status_t *ret_status, lab_printer_memory_t *ret_memory,
                              lab_error_t *err)
{
        hf_t *h = (hf_t *)p;
        char item[HF_ITEM_MAX + 1], day[16] = "";
        lab_error_t e = {0};
        bool missing;
        int r, q;

        if (hf_item_encode(job_name, item, sizeof item) < 0) {
                /* Never an item, so never sent here; what the folder remembers is still said. */
                if (folder_check(h, &missing, &e) == 0 || !missing)
                        memory_fill(h, ret_memory);
                return lab_error_set(err, ENOENT, "printer_job_unknown",
                                     "printer %s: no hot-folder item can carry job name '%s'",
                                     p->name, job_name ? job_name : "(null)");
        }
        r = item_status(h, item, ret_status, err);
        if (r < 0 && r != -ENOENT)
                return r;
        /* Read after the look: a folder replaced meanwhile shows a later boot, never an earlier. */
        memory_fill(h, ret_memory);
        if (r == -ENOENT) {
                q = sent_record_find(h, item, day, sizeof day);
                if (q < 0)
                        return lab_error_set(err, q, "hotfolder_unwritable",
                                             "printer %s: item %s is not in hot folder %s and its "
                                             "records of what was sent (" HF_STATE_DIR
                                             "/" HF_SENT_DIR ") cannot be read: %s",
                                             p->name, item, h->folder, strerror(-q));
                /* The folder went away while we looked (an unmount): that is no answer. */
                if (folder_check(h, &missing, &e) < 0 && missing) {
                        if (err)
                                *err = e;
                        return -EIO;
                }
                if (q == 0)
                        return lab_error_set(err, ENOENT, "printer_job_unknown",
                                             "printer %s: item %s is not in hot folder %s (nor in "
                                             "its done or error areas) and was never sent there "
                                             "(no record since the folder's memory began)",
                                             p->name, item, h->folder);
                lab_error_clear(err);
                *ret_status =
                    (lab_pjob_status_t){.state = LAB_PJOB_UNKNOWN, .impressions_completed = -1};
                snprintf(ret_status->reasons, sizeof ret_status->reasons, "printer_forgot");
                message_set(ret_status->message, sizeof ret_status->message,
                            "sent to the hot folder (%s) but in none of its places now: the "
                            "minilab took it and its result is gone, or it was removed; check "
                            "whether it printed",
                            day);
        }
        *ret_handle = strdup(item);
        if (!*ret_handle)
                return lab_error_set(err, ENOMEM, "printer_job_unknown", "out of memory");
        return 0;
}

/* The inotify fd, readable when something changed in a watched directory. */
static int hotfolder_watch_fd(lab_printer_t *p)
{
        return ((hf_t *)p)->inotify_fd;
}

/* Read the pending events (non-blocking, bounded) and re-add watches that went away. */
static void hotfolder_drain_watch(lab_printer_t *p)
{
        hf_t *h = (hf_t *)p;
        char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));

        if (h->inotify_fd < 0)
                return;
        for (int i = 0; i < HF_DRAIN_MAX_READS; i++) {
                ssize_t n = read(h->inotify_fd, buf, sizeof buf);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
        }
        /* A removed or new directory (IN_IGNORED, IN_CREATE|IN_ISDIR): cheapest to re-add all. */
        watch_all(h);
}

const lab_printer_ops_t lab_printer_hotfolder_ops = {
    .driver = "hotfolder",
    .open = hotfolder_open,
    .close = hotfolder_close,
    .capabilities = hotfolder_capabilities,
    .submit = hotfolder_submit,
    .job_status = hotfolder_job_status,
    .cancel = hotfolder_cancel,
    .status = hotfolder_status,
    .find_job = hotfolder_find_job,
    .watch_fd = hotfolder_watch_fd,
    .drain_watch = hotfolder_drain_watch,
};
