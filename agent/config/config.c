/*
 * config.c - load labagent.yaml: the public entry points and the problem list.
 *
 * Why: this is the edge of the config module. It reads the file (refusing
 * anything over 1 MiB before parsing it), hands the text to config-yaml.c and
 * the tree to config-schema.c, and owns the list of problems they report:
 * capped at LAB_CONFIG_MAX_PROBLEMS, put in document order, and formatted as
 * "file:line:col: key.path: message [keyword]". It never logs or prints on
 * its own: the caller (labagent --check-config, the daemon at start) decides
 * where the problems go. A config with any problem is never returned.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config-private.h"

/* Free one problem's strings. */
static void problem_done(lab_config_problem_t *p)
{
        free(p->file);
        free(p->key_path);
        free(p->keyword);
        free(p->message);
}

/* Copy s, replacing control characters so a hostile key cannot forge output lines. */
static char *strdup_printable(const char *s)
{
        char *d = strdup(s);

        if (!d)
                return NULL;
        for (char *c = d; *c; c++)
                if ((unsigned char)*c < 0x20 || *c == 0x7f)
                        *c = '?';
        return d;
}

/* Append a problem without the cap (used for the cap's own entry too). */
static int problem_append(lab_config_ctx_t *ctx, unsigned line, unsigned column,
                          const char *key_path, const char *keyword, char *message)
{
        lab_config_problems_t *l = ctx->problems;
        lab_config_problem_t p = {.line = line, .column = column}, *v;

        p.message = message;
        p.file = strdup_printable(ctx->file);
        p.key_path = strdup_printable(key_path ? key_path : "");
        p.keyword = strdup(keyword);
        if (!p.message || !p.file || !p.key_path || !p.keyword)
                goto oom;
        for (char *c = p.message; *c; c++)
                if ((unsigned char)*c < 0x20 || *c == 0x7f)
                        *c = '?';
        v = reallocarray(l->v, l->n + 1, sizeof *v);
        if (!v)
                goto oom;
        l->v = v;
        l->v[l->n++] = p;
        return 0;
oom:
        problem_done(&p);
        ctx->error = -ENOMEM;
        return -ENOMEM;
}

int lab_config_problem_add(lab_config_ctx_t *ctx, unsigned line, unsigned column,
                           const char *key_path, const char *keyword, const char *fmt, ...)
{
        char *message;
        va_list ap;
        int r;

        if (ctx->error < 0)
                return ctx->error;
        if (lab_config_ctx_count(ctx) >= LAB_CONFIG_MAX_PROBLEMS) {
                ctx->overflowed = true;
                return 0;
        }
        va_start(ap, fmt);
        r = vasprintf(&message, fmt, ap);
        va_end(ap);
        if (r < 0)
                message = NULL;
        return problem_append(ctx, line, column, key_path, keyword, message);
}

/* Put this load's problems in document order (stable), then add the cap's entry. */
int lab_config_problems_finish(lab_config_ctx_t *ctx)
{
        size_t n = lab_config_ctx_count(ctx);
        lab_config_problem_t *v;

        if (n == 0)
                return ctx->error; /* v may be NULL: no pointer arithmetic on it */
        v = ctx->problems->v + ctx->first;

        /* Insertion sort: at most LAB_CONFIG_MAX_PROBLEMS entries, and stable. */
        for (size_t i = 1; i < n; i++) {
                lab_config_problem_t p = v[i];
                size_t j = i;

                while (j > 0 && (v[j - 1].line > p.line ||
                                 (v[j - 1].line == p.line && v[j - 1].column > p.column))) {
                        v[j] = v[j - 1];
                        j--;
                }
                v[j] = p;
        }

        if (ctx->overflowed && ctx->error == 0) {
                char *message;

                if (asprintf(&message, "more than %d problems; fix these and check again",
                             LAB_CONFIG_MAX_PROBLEMS) < 0)
                        message = NULL;
                return problem_append(ctx, 0, 0, "", "too_many_problems", message);
        }
        return ctx->error;
}

LAB_DEFINE_CLEANUP(lab_config_t *, lab_config_free)

int lab_config_too_large(lab_config_ctx_t *ctx, const char *what)
{
        int r;

        r = lab_config_problem_add(ctx, 0, 0, "", "file_too_large",
                                   "file is larger than %zu bytes (1 MiB); this is not a %s",
                                   LAB_CONFIG_MAX_FILE_SIZE, what);
        return r < 0 ? r : -EFBIG;
}

int lab_config_load_buffer(const char *name, const char *buf, size_t len, lab_config_t **ret,
                           lab_config_problems_t *problems)
{
        lab_config_ctx_t ctx = {
            .file = name ? name : "(buffer)",
            .problems = problems,
            .first = problems->n,
        };
        _cleanup_(lab_ynode_freep) lab_ynode_t *root = NULL;
        _cleanup_(lab_config_freep) lab_config_t *c = NULL;
        bool decode;
        int r;

        *ret = NULL;
        r = lab_config_load_begin(&ctx, "labagent configuration", buf, len, &root, &decode);
        if (r < 0)
                return r;

        c = calloc(1, sizeof *c);
        if (!c)
                return -ENOMEM;
        c->path = strdup(ctx.file);
        if (!c->path)
                return -ENOMEM;
        if (decode) {
                r = lab_config_schema_decode(&ctx, root, c);
                if (r < 0)
                        return r;
        }
        r = lab_config_load_end(&ctx);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(c);
        return 0;
}

int lab_config_load_begin(lab_config_ctx_t *ctx, const char *what, const char *buf, size_t len,
                          lab_ynode_t **root, bool *decode)
{
        int r;

        *root = NULL;
        *decode = false;
        if (len > LAB_CONFIG_MAX_FILE_SIZE)
                return lab_config_too_large(ctx, what);
        r = lab_yaml_read(ctx, buf ? buf : "", buf ? len : 0, root);
        if (r < 0)
                return r;
        /* A YAML syntax error leaves no tree; an empty file has no tree and no problem yet. */
        *decode = *root || lab_config_ctx_count(ctx) == 0;
        return 0;
}

int lab_config_load_end(lab_config_ctx_t *ctx)
{
        int r = lab_config_problems_finish(ctx);

        if (r < 0)
                return r;
        return lab_config_ctx_count(ctx) > 0 ? -EINVAL : 0;
}

/* Report that the file could not be read (line 0: the whole file) and return -err. */
static int unreadable(lab_config_ctx_t *ctx, int err)
{
        char buf[256];
        int r;

        r = lab_config_problem_add(ctx, 0, 0, "", "config_unreadable", "%s",
                                   strerror_r(err, buf, sizeof buf));
        return r < 0 ? r : -err;
}

int lab_config_read_file(lab_config_ctx_t *ctx, const char *what, char **ret_buf, size_t *ret_len)
{
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *buf = NULL;
        size_t len = 0;
        struct stat st;

        fd = open(ctx->file, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return unreadable(ctx, errno);
        if (fstat(fd, &st) < 0)
                return unreadable(ctx, errno);
        if (S_ISDIR(st.st_mode))
                return unreadable(ctx, EISDIR);
        if (S_ISREG(st.st_mode) && (uint64_t)st.st_size > LAB_CONFIG_MAX_FILE_SIZE)
                return lab_config_too_large(ctx, what);

        /* Read at most one byte past the limit, so pipes and growing files are bounded too. */
        buf = malloc(LAB_CONFIG_MAX_FILE_SIZE + 1);
        if (!buf)
                return -ENOMEM;
        while (len < LAB_CONFIG_MAX_FILE_SIZE + 1) {
                ssize_t n = read(fd, buf + len, LAB_CONFIG_MAX_FILE_SIZE + 1 - len);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return unreadable(ctx, errno);
                if (n == 0)
                        break;
                len += (size_t)n;
        }
        if (len > LAB_CONFIG_MAX_FILE_SIZE)
                return lab_config_too_large(ctx, what);
        *ret_buf = TAKE_PTR(buf);
        *ret_len = len;
        return 0;
}

int lab_config_load_file(const char *path, lab_config_t **ret, lab_config_problems_t *problems)
{
        lab_config_ctx_t ctx = {.file = path, .problems = problems, .first = problems->n};
        _cleanup_free_ char *buf = NULL;
        size_t len = 0;
        int r;

        *ret = NULL;
        r = lab_config_read_file(&ctx, "labagent configuration", &buf, &len);
        if (r < 0)
                return r;
        return lab_config_load_buffer(path, buf, len, ret, problems);
}

void lab_config_free(lab_config_t *c)
{
        if (!c)
                return;
        lab_config_schema_free(c);
        free(c->path);
        free(c);
}

const lab_config_printer_t *lab_config_find_printer(const lab_config_t *c, const char *name)
{
        if (!c || !name)
                return NULL;
        for (size_t i = 0; i < c->n_printers; i++)
                if (c->printers[i].name && strcmp(c->printers[i].name, name) == 0)
                        return &c->printers[i];
        return NULL;
}

const lab_config_product_t *lab_config_find_product(const lab_config_t *c, const char *sku)
{
        if (!c || !sku)
                return NULL;
        for (size_t i = 0; i < c->n_products; i++)
                if (c->products[i].sku && strcmp(c->products[i].sku, sku) == 0)
                        return &c->products[i];
        return NULL;
}

const char *lab_config_pair_get(const lab_config_pair_t *pairs, size_t n, const char *name)
{
        for (size_t i = 0; i < n; i++)
                if (pairs[i].name && strcmp(pairs[i].name, name) == 0)
                        return pairs[i].value;
        return NULL;
}

char *lab_config_problem_format(const lab_config_problem_t *p)
{
        char *s;
        char pos[32] = "";
        const char *path = p->key_path ? p->key_path : "";

        if (p->line > 0)
                snprintf(pos, sizeof pos, ":%u:%u", p->line, p->column);
        if (asprintf(&s, "%s%s: %s%s%s [%s]", p->file ? p->file : "", pos, path,
                     path[0] ? ": " : "", p->message ? p->message : "",
                     p->keyword ? p->keyword : "") < 0)
                return NULL;
        return s;
}

void lab_config_problems_print(const lab_config_problems_t *problems, FILE *f)
{
        for (size_t i = 0; problems && i < problems->n; i++) {
                _cleanup_free_ char *line = lab_config_problem_format(&problems->v[i]);

                if (line)
                        fprintf(f, "%s\n", line);
        }
}

void lab_config_problems_clear(lab_config_problems_t *problems)
{
        if (!problems)
                return;
        for (size_t i = 0; i < problems->n; i++)
                problem_done(&problems->v[i]);
        free(problems->v);
        problems->v = NULL;
        problems->n = 0;
}
