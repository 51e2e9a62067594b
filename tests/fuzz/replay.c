/*
 * replay.c - run a fuzz target over its seed files without libFuzzer.
 *
 * Why: the gcc builds (default, asan) have no libFuzzer, but every seed and
 * every input a fuzzing session once found must keep passing there too. This
 * main() feeds each file named on the command line (or each file in a named
 * directory) to LLVMFuzzerTestOneInput once, and fails on no input at all.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Feed one file to the target; returns 1 if it was run. */
static int replay_file(const char *path)
{
        FILE *f = fopen(path, "rbe");
        uint8_t *buf = NULL;
        size_t n = 0, cap = 0;

        if (!f) {
                perror(path);
                exit(2);
        }
        for (;;) {
                if (n == cap) {
                        cap = cap ? cap * 2 : 65536;
                        buf = realloc(buf, cap);
                        if (!buf)
                                abort();
                }
                size_t r = fread(buf + n, 1, cap - n, f);
                if (r == 0)
                        break;
                n += r;
        }
        fclose(f);
        LLVMFuzzerTestOneInput(buf, n);
        free(buf);
        printf("replayed %s (%zu bytes)\n", path, n);
        return 1;
}

/* Feed a file, or every regular file of a directory (not recursive). */
static int replay_path(const char *path)
{
        struct stat st;
        struct dirent **names;
        int count, done = 0;

        if (stat(path, &st) < 0) {
                perror(path);
                exit(2);
        }
        if (!S_ISDIR(st.st_mode))
                return replay_file(path);

        count = scandir(path, &names, NULL, alphasort);
        for (int i = 0; i < count; i++) {
                char *p;

                if (names[i]->d_name[0] != '.' &&
                    asprintf(&p, "%s/%s", path, names[i]->d_name) >= 0) {
                        if (stat(p, &st) == 0 && S_ISREG(st.st_mode))
                                done += replay_file(p);
                        free(p);
                }
                free(names[i]);
        }
        free(names);
        return done;
}

int main(int argc, char **argv)
{
        int done = 0;

        for (int i = 1; i < argc; i++)
                done += replay_path(argv[i]);
        printf("%d passed, 0 failed\n", done);
        return done > 0 ? 0 : 1;
}
