/*
 * macro.h - small helpers shared by every labagent source file.
 *
 * Why: the house style (systemd's) keeps every early return leak-free with
 * __attribute__((cleanup)). These are the few cleanup helpers and array
 * macros the whole tree uses, so that no module grows its own copy.
 */
#pragma once

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <errno.h>

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))

/* Define a cleanup function freep-style for a type with a destructor. */
#define LAB_DEFINE_CLEANUP(type, func)                                                             \
        static inline void func##p(type *p)                                                        \
        {                                                                                          \
                if (*p)                                                                            \
                        func(*p);                                                                  \
        }

static inline void lab_freep(void *p)
{
        free(*(void **)p);
}

static inline void lab_closep(int *fd)
{
        if (*fd >= 0) {
                int saved = errno;
                close(*fd);
                errno = saved;
        }
}

static inline void lab_fclosep(FILE **f)
{
        if (*f)
                fclose(*f);
}

/* Free a NULL-terminated list of strings and the list (NULL is fine). */
static inline void lab_strv_free(char **v)
{
        for (size_t i = 0; v && v[i]; i++)
                free(v[i]);
        free(v);
}

#define _cleanup_(f)     __attribute__((cleanup(f)))
#define _cleanup_free_   _cleanup_(lab_freep)
#define _cleanup_close_  _cleanup_(lab_closep)
#define _cleanup_fclose_ _cleanup_(lab_fclosep)

/* Hand a pointer over to someone else: returns it and clears the owner. */
#define TAKE_PTR(p)                                                                                \
        ({                                                                                         \
                __typeof__(p) _p = (p);                                                            \
                (p) = NULL;                                                                        \
                _p;                                                                                \
        })

#define TAKE_FD(fd)                                                                                \
        ({                                                                                         \
                int _fd = (fd);                                                                    \
                (fd) = -1;                                                                         \
                _fd;                                                                               \
        })

#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _unused_       __attribute__((unused))

/*
 * Intrusive doubly linked lists: an item struct with `prev` and `next`
 * pointers, a head pointer of the same type. Prepend and remove are O(1).
 */
#define LAB_LIST_PREPEND(head, item)                                                               \
        do {                                                                                       \
                (item)->prev = NULL;                                                               \
                (item)->next = (head);                                                             \
                if ((item)->next)                                                                  \
                        (item)->next->prev = (item);                                               \
                (head) = (item);                                                                   \
        } while (0)

#define LAB_LIST_REMOVE(head, item)                                                                \
        do {                                                                                       \
                if ((item)->prev)                                                                  \
                        (item)->prev->next = (item)->next;                                         \
                else if ((head) == (item))                                                         \
                        (head) = (item)->next;                                                     \
                if ((item)->next)                                                                  \
                        (item)->next->prev = (item)->prev;                                         \
                (item)->prev = (item)->next = NULL;                                                \
        } while (0)
