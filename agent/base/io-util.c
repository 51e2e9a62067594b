/*
 * io-util.c - write-all, directory fsync, spool and disk sizes (see io-util.h).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "io-util.h"

int lab_write_all(int fd, const void *buf, size_t n)
{
        const char *c = buf;

        while (n > 0) {
                ssize_t w = write(fd, c, n);

                if (w < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                c += w;
                n -= (size_t)w;
        }
        return 0;
}

int lab_fsync_dir(const char *dir)
{
        int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), r = 0;

        if (fd < 0)
                return -errno;
        if (fsync(fd) < 0)
                r = -errno;
        close(fd);
        return r;
}

uint64_t lab_dir_bytes(const char *dir)
{
        DIR *d = opendir(dir);
        struct dirent *e;
        uint64_t total = 0;

        if (!d)
                return 0;
        while ((e = readdir(d))) {
                struct stat st;

                if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                    S_ISREG(st.st_mode))
                        total += (uint64_t)st.st_size;
        }
        closedir(d);
        return total;
}

uint64_t lab_free_bytes(const char *path)
{
        struct statvfs v;

        if (statvfs(path, &v) < 0)
                return UINT64_MAX;
        return (uint64_t)v.f_bavail * (uint64_t)v.f_frsize;
}
