/*
 * io-util.c - write-all and directory fsync (see io-util.h).
 */
#include <errno.h>
#include <fcntl.h>
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
