/*
 * testutil.c - scratch directories and whole-file I/O for the tests.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

char *lab_test_mkdtemp(const char *tag)
{
        const char *base = getenv("TMPDIR");
        char *p;

        if (!base || !*base)
                base = "/tmp";
        if (asprintf(&p, "%s/labagent-test-%s-XXXXXX", base, tag) < 0)
                abort();
        if (!mkdtemp(p)) {
                fprintf(stderr, "mkdtemp %s: %s\n", p, strerror(errno));
                abort();
        }
        return p;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
        (void)st;
        (void)flag;
        (void)ftw;
        remove(path);
        return 0;
}

void lab_test_rm_rf(const char *path)
{
        if (path)
                nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

char *lab_test_path(const char *dir, const char *name)
{
        char *p;

        if (asprintf(&p, "%s/%s", dir, name) < 0)
                abort();
        return p;
}

char *lab_test_repeat(char c, size_t n)
{
        char *s = malloc(n + 1);

        if (!s)
                abort();
        memset(s, c, n);
        s[n] = '\0';
        return s;
}

void lab_test_write_file(const char *path, const void *data, size_t len)
{
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        const char *c = data;

        if (fd < 0) {
                fprintf(stderr, "open %s: %s\n", path, strerror(errno));
                abort();
        }
        while (len > 0) {
                ssize_t n = write(fd, c, len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        abort();
                }
                c += n;
                len -= (size_t)n;
        }
        close(fd);
}

void lab_test_write_string(const char *path, const char *s)
{
        lab_test_write_file(path, s, strlen(s));
}

char *lab_test_read_file(const char *path, size_t *len)
{
        FILE *f = fopen(path, "rbe");
        char *buf = NULL;
        size_t cap = 0, n = 0;

        if (!f)
                return NULL;
        for (;;) {
                if (n + 4096 + 1 > cap) {
                        cap = cap ? cap * 2 : 8192;
                        buf = realloc(buf, cap);
                        if (!buf)
                                abort();
                }
                size_t r = fread(buf + n, 1, cap - n - 1, f);
                n += r;
                if (r == 0)
                        break;
        }
        fclose(f);
        buf[n] = '\0';
        if (len)
                *len = n;
        return buf;
}

long long lab_test_now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
