/*
 * statedir.c - prepare the state directory and hold the single-instance lock.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "statedir.h"

int lab_statedir_lock(const char *dir, lab_error_t *err)
{
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *path = NULL;
        char pid[32];
        int n;

        if (mkdir(dir, 0750) < 0 && errno != EEXIST)
                return lab_error_set(err, errno, "state_dir_unusable",
                                     "cannot create state directory %s: %s; create it and make "
                                     "it writable by the labagent user",
                                     dir, strerror(errno));

        if (asprintf(&path, "%s/%s", dir, LAB_LOCK_FILENAME) < 0)
                return -ENOMEM;

        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd < 0)
                return lab_error_set(err, errno, "state_dir_unusable",
                                     "cannot open lock file %s: %s; make the state directory "
                                     "writable by the labagent user",
                                     path, strerror(errno));

        if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
                int e = errno;
                char other[32] = "";
                ssize_t r = pread(fd, other, sizeof other - 1, 0);

                if (e != EWOULDBLOCK)
                        return lab_error_set(err, e, "state_dir_unusable", "cannot lock %s: %s",
                                             path, strerror(e));
                if (r > 0)
                        other[strcspn(other, "\n")] = '\0';
                return lab_error_set(err, EBUSY, "state_locked",
                                     "another labagent (pid %s) is already running on %s; stop "
                                     "it first, or give this one its own --state-dir",
                                     r > 0 && other[0] ? other : "unknown", dir);
        }

        n = snprintf(pid, sizeof pid, "%d\n", (int)getpid());
        if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, (size_t)n, 0) != n)
                return lab_error_set(err, errno, "state_dir_unusable",
                                     "cannot write lock file %s: %s", path, strerror(errno));

        return TAKE_FD(fd);
}
