/*
 * io-util.h - the two file-descriptor loops everyone gets slightly wrong:
 * write everything despite short writes and EINTR, and make a rename durable.
 */
#pragma once

#include <stdint.h>

#include <stddef.h>

/* Write all n bytes of buf to fd, retrying short writes and EINTR. 0 or a negative errno. */
int lab_write_all(int fd, const void *buf, size_t n);

/* fsync a directory, so that a rename or create in it survives a power cut. 0 or a negative errno.
 */
int lab_fsync_dir(const char *dir);

/* Bytes of the regular files directly in dir (not recursive); 0 when it cannot be read. */
uint64_t lab_dir_bytes(const char *dir);

/* Bytes free for an unprivileged user on the file system of path; UINT64_MAX when unknown. */
uint64_t lab_free_bytes(const char *path);
