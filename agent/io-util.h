/*
 * io-util.h - the two file-descriptor loops everyone gets slightly wrong:
 * write everything despite short writes and EINTR, and make a rename durable.
 */
#pragma once

#include <stddef.h>

/* Write all n bytes of buf to fd, retrying short writes and EINTR. 0 or a negative errno. */
int lab_write_all(int fd, const void *buf, size_t n);

/* fsync a directory, so that a rename or create in it survives a power cut. 0 or a negative errno. */
int lab_fsync_dir(const char *dir);
